// The checker page: an editor, a Check and a Stop button, and the report, rendered like the
// course pages (formulas by KaTeX). The engine runs in a module Web Worker (worker.mjs), so the
// page never freezes; Pyodide and the wheels load once, on the first check.
//
// Stable hooks (tests, assistive tools): each step's verdict element has
// data-verdict="proved|refuted|checked|error"; the report has data-state="idle|running|done".
// A link `…/check/#toml=<base64url of the file>` opens the page with that file and checks it.
import katex from "./katex.mjs";

const WATCHDOG_SECONDS = 300; // loading (cold, slow machine) + a file's whole budget (120 s)
const MARK = { proved: "✓", refuted: "✗", checked: "~", error: "!" };

const root = document.getElementById("elbo-checker");
const source = root.querySelector("#elbo-source");
const menu = root.querySelector("#elbo-files");
const checkButton = root.querySelector("#elbo-check");
const stopButton = root.querySelector("#elbo-stop");
const shareLink = root.querySelector("#elbo-share");
const status = root.querySelector("#elbo-status");
const report = root.querySelector("#elbo-report");
const files = JSON.parse(document.getElementById("elbo-checker-files").textContent);

let worker = null;
let running = null; // {id, timer, started}
let nextId = 1;

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function tex(latex) {
  return katex.renderToString(latex, { throwOnError: false, output: "html" });
}

export function encodeFile(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeFile(encoded) {
  const base64 = encoded.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

function fileName() {
  return menu.value && files[menu.value] === source.value ? menu.value : "derivation.toml";
}

function updateShareLink() {
  shareLink.href = `#toml=${encodeFile(source.value)}`;
}

function setState(state) {
  report.dataset.state = state;
  root.dataset.state = state;
  checkButton.disabled = state === "running";
  stopButton.disabled = state !== "running";
}

function startWorker() {
  worker = new Worker(new URL("./worker.mjs", import.meta.url), { type: "module" });
  worker.onmessage = (event) => {
    const message = event.data;
    if (message.type === "progress") status.textContent = message.text;
    else if (message.type === "ready") status.textContent = `Engine loaded in ${message.seconds.toFixed(1)} s.`;
    else if (running && message.id === running.id) {
      const seconds = (performance.now() - running.started) / 1000;
      clearTimeout(running.timer);
      running = null;
      if (message.type === "result") showResult(JSON.parse(message.result), seconds);
      else showFailure(`The checker failed: ${message.message}`);
    }
  };
  worker.onerror = (event) => {
    if (running) {
      clearTimeout(running.timer);
      running = null;
      showFailure(`The checker's worker failed: ${event.message || "unknown error"}`);
      stopWorker();
    }
  };
}

function stopWorker() {
  if (worker) worker.terminate();
  worker = null;
}

function check() {
  if (running) return;
  updateShareLink();
  if (!worker) startWorker();
  const id = nextId++;
  const timer = setTimeout(() => {
    stopWorker();
    running = null;
    showFailure(`error: the check did not finish within ${WATCHDOG_SECONDS} s in the browser; it was stopped ` +
                "(undecided is never proved)");
  }, WATCHDOG_SECONDS * 1000);
  running = { id, timer, started: performance.now() };
  report.innerHTML = "";
  setState("running");
  status.textContent = "Checking…";
  worker.postMessage({ type: "check", id, text: source.value, name: fileName() });
}

function stop() {
  if (!running) return;
  clearTimeout(running.timer);
  running = null;
  stopWorker();
  showFailure("Stopped. Nothing was decided (undecided is never proved); press Check to start again.");
}

function showFailure(text) {
  report.innerHTML = `<p class="elbo-failure" role="alert">${escapeHtml(text)}</p>`;
  status.textContent = "";
  setState("done");
}

// Words and formulas (browser.pieces_view): the words as text, each formula by KaTeX from the
// printer's LaTeX (two formulas in a row kept apart by a space), never its `$...$` as typed.
function piecesHtml(pieces) {
  return pieces.map((p, i) => (p.kind === "math"
    ? `${i && pieces[i - 1].kind === "math" ? " " : ""}<span class="elbo-math" data-tex="${escapeHtml(p.latex)}">` +
      `${tex(p.latex)}</span>`
    : escapeHtml(p.text))).join("");
}

// A suggestion (or the file's checked repair) as the site prints a repair: its words and the
// formulas it names (piecesHtml), then the edit in file syntax, to copy into the file.
function repairHtml(g) {
  const edit = g.edit ? `: <code class="elbo-edit">${escapeHtml(g.edit)}</code>` : "";
  return `<div class="elbo-suggestion">${escapeHtml(g.label)}: ${piecesHtml(g.pieces)}${edit}</div>`;
}

function stepHtml(s) {
  const parts = [`<li class="elbo-step" data-step="${s.index}">`,
    `<span class="elbo-verdict" data-verdict="${escapeHtml(s.verdict)}">${MARK[s.verdict] || ""} ${escapeHtml(s.verdict)}</span> `,
    `<span class="elbo-line">step ${s.index} (line ${s.line})</span>`,
    `<div class="elbo-formula">${tex(`${s.rel_latex}\\ ${s.expr.latex}`)}</div>`,
    `<div class="elbo-reason">[${escapeHtml(s.rule)}] ${escapeHtml(s.reason)}</div>`];
  if (s.notes.length) parts.push(`<div class="elbo-note">${s.notes.map(escapeHtml).join("<br>")}</div>`);
  if (s.counterexample.length) {
    parts.push(`<pre class="elbo-counterexample">${escapeHtml(s.counterexample.join("\n"))}</pre>`);
  }
  if (s.repair) parts.push(repairHtml(s.repair));
  parts.push("</li>");
  return parts.join("");
}

function showResult(result, seconds) {
  const html = [];
  if (result.errors.length) {
    html.push(`<pre class="elbo-input-error" role="alert">${escapeHtml(result.text)}</pre>`);
  }
  for (const view of result.views) {
    html.push(`<h3 class="elbo-title">${view.title_pieces.length ? piecesHtml(view.title_pieces) : escapeHtml(view.title)}</h3>`);
    html.push(`<p class="elbo-domain">${escapeHtml(view.scope)}</p>`);
    if (view.claim_latex) html.push(`<div class="elbo-claim-formula"><strong>Claim.</strong> ${tex(view.claim_latex)}</div>`);
    for (const a of view.assume_latex) {
      html.push(`<div class="elbo-assume" data-tex="${escapeHtml(a)}"><strong>Assume.</strong> ${tex(a)}</div>`);
    }
    html.push(`<div class="elbo-start">${tex(view.start_latex)}</div>`);
    html.push(`<ol class="elbo-steps">${view.steps.map(stepHtml).join("")}</ol>`);
    for (const line of view.lines) html.push(`<p class="elbo-claim">${escapeHtml(line)}</p>`);
  }
  html.push(`<p class="elbo-outcome" data-status="${result.status}">${escapeHtml(result.outcome)} ` +
            `(${seconds.toFixed(1)} s)</p>`);
  html.push(`<details><summary>As <code>elbo-sym check</code> prints it</summary><pre>${escapeHtml(result.text)}</pre></details>`);
  report.innerHTML = html.join("");
  report.dataset.status = String(result.status);
  status.textContent = "";
  setState("done");
}

menu.innerHTML = '<option value="">(your own file)</option>' +
  Object.keys(files).map((name) => `<option value="${escapeHtml(name)}">${escapeHtml(name)}</option>`).join("");
menu.value = Object.keys(files)[0] ?? "";
source.value = files[menu.value] ?? "";
menu.addEventListener("change", () => {
  if (menu.value in files) source.value = files[menu.value];
  updateShareLink();
});
source.addEventListener("input", () => {
  if (menu.value && files[menu.value] !== source.value) menu.value = "";
  updateShareLink();
});
checkButton.addEventListener("click", check);
stopButton.addEventListener("click", stop);
setState("idle");

function openFromHash() {
  const match = /^#toml=([A-Za-z0-9_-]*)$/.exec(location.hash);
  if (!match) return false;
  try {
    source.value = decodeFile(match[1]);
  } catch {
    showFailure("error: the link's file is not valid base64url UTF-8 text");
    return false;
  }
  menu.value = Object.keys(files).find((name) => files[name] === source.value) ?? "";
  return true;
}

if (openFromHash()) check();
else updateShareLink();
window.addEventListener("hashchange", () => {
  if (openFromHash()) check();
});
