// Written by `elbo-sym web --site`. The checker page (/check/) runs elbo-sym's engine under
// Pyodide, served by this site itself: this copies Pyodide's runtime and KaTeX's module build
// from the site's own npm packages (package.json pins them) into public/check-engine/, where
// `elbo-sym web --site` put the checker's scripts and the Python wheels. astro.config.mjs runs
// it when a build (or `astro dev`) starts, so `npm run build` and `astro build` both have it.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SITE = dirname(fileURLToPath(import.meta.url));
const FILES = [
  ...["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]
    .map((f) => ["pyodide", f, join("pyodide", f)]),
  ["katex", join("dist", "katex.mjs"), "katex.mjs"],
];

export function copyCheckRuntime(site = SITE) {
  // node's own resolution: the site's node_modules, or one in a folder above it
  const require = createRequire(join(site, "package.json"));
  const target = join(site, "public", "check-engine");
  for (const [pkg, file, to] of FILES) {
    const from = join(dirname(require.resolve(`${pkg}/package.json`)), file);
    mkdirSync(dirname(join(target, to)), { recursive: true });
    copyFileSync(from, join(target, to));
  }
}

export const checkRuntime = {
  name: "elbo-sym-check-runtime",
  hooks: { "astro:config:setup": () => copyCheckRuntime() },
};
