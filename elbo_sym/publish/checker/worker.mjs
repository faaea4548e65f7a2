// The checker's Web Worker (a *module* worker: Pyodide refuses classic workers).
// It loads Pyodide and the wheels once, from the site itself (never a CDN), then checks
// derivation files with elbo-sym's own engine: `elbo_sym.publish.browser.check_source`.
// Messages in:  {type: "check", id, text, name}
// Messages out: {type: "progress", text}, {type: "ready", seconds},
//               {type: "result", id, result (JSON text), seconds}, {type: "failed", id, message}
import { loadPyodide } from "./pyodide/pyodide.mjs";

const base = new URL("./", import.meta.url);
let engine = null;

function progress(text) {
  postMessage({ type: "progress", text });
}

async function boot() {
  const started = performance.now();
  progress("Loading Python (Pyodide)…");
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", base).href, packages: [] });
  const manifest = await (await fetch(new URL("manifest.json", base))).json();
  let n = 0;
  for (const wheel of manifest.wheels) {
    n += 1;
    progress(`Loading ${wheel.split("-")[0]} (${n}/${manifest.wheels.length})…`);
    const response = await fetch(new URL(`wheels/${wheel}`, base));
    if (!response.ok) throw new Error(`could not load ${wheel}: HTTP ${response.status}`);
    pyodide.unpackArchive(new Uint8Array(await response.arrayBuffer()), "wheel");
  }
  progress("Importing the engine (SymPy)…");
  pyodide.runPython("import elbo_sym.publish.browser");
  const check = pyodide.runPython("elbo_sym.publish.browser.check_source");
  postMessage({ type: "ready", seconds: (performance.now() - started) / 1000 });
  return check;
}

self.onmessage = async (event) => {
  const message = event.data;
  if (message.type !== "check") return;
  try {
    engine ??= boot();
    const check = await engine;
    progress("Checking…");
    const started = performance.now();
    const result = check(message.text, message.name || "derivation.toml");
    postMessage({ type: "result", id: message.id, result, seconds: (performance.now() - started) / 1000 });
  } catch (error) {
    postMessage({ type: "failed", id: message.id, message: String(error && error.message ? error.message : error) });
  }
};
