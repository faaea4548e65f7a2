// Written by `elbo-sym web --site`; run by `npm run build` (the "prebuild" script).
// Copies what the checker page runs from the site's own npm packages into public/, so the
// built site serves everything itself: Pyodide's runtime and KaTeX's module build.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const site = dirname(fileURLToPath(import.meta.url));
const target = join(site, "public", "check-engine");
const files = [
  ...["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]
    .map((f) => [join("pyodide", f), join("pyodide", f)]),
  [join("katex", "dist", "katex.mjs"), "katex.mjs"],
];
for (const [from, to] of files) {
  mkdirSync(dirname(join(target, to)), { recursive: true });
  copyFileSync(join(site, "node_modules", from), join(target, to));
}
console.log(`check-engine: copied ${files.length} runtime files into public/check-engine/`);
