// Drives the site's checker page (/check/) in headless Chromium, as a student would:
//   node checker_drive.mjs DIST_DIR OUT.json FILE.toml [FILE.toml ...]
// Serves DIST_DIR on 127.0.0.1 (a random port) and opens the page once, by the first file's shared
// link (/check/#toml=<base64url>: the page opens with that file and checks it on load -- the cold
// start, Pyodide loaded once for everything below); then for each file puts its text into the
// editor, presses Check and waits for data-state="done". Writes, per file, the verdicts
// (data-verdict of each step), the counterexample and error texts, the scope line, the claim and the
// conditions shown (each Assume line's TeX), and the seconds it took; plus
// the link's result (the link opened, the editor's text, the verdicts, and the page's own share
// link for the first file after a re-check: the round trip), the cold time (page open to first
// verdict), the re-check's time (warm), the Stop button on a long check (STOP_TEXT: a file's text,
// optional; last, as Stop ends the worker), and every request that left the server. Chromium
// resolves no host but 127.0.0.1, so a page that needed the internet would fail, not fetch.
import { createServer } from "node:http";
import { readFile, stat, writeFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import puppeteer from "puppeteer-core";

const [dist, out, ...files] = process.argv.slice(2);
const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm", ".svg": "image/svg+xml",
  ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".zip": "application/zip",
  ".whl": "application/octet-stream", ".png": "image/png", ".txt": "text/plain",
};
const root = resolve(dist);

const server = createServer(async (request, response) => {
  try {
    let path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname));
    let file = join(root, path);
    if (!file.startsWith(root)) throw new Error("outside");
    if ((await stat(file).catch(() => null))?.isDirectory()) file = join(file, "index.html");
    const body = await readFile(file);
    response.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" });
    response.end(body);
  } catch {
    response.writeHead(404);
    response.end("not found");
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
});
const outside = [];
const result = { origin, files: {}, outside };
try {
  const page = await browser.newPage();
  page.on("request", (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) outside.push(r.url()); });
  // Workers' requests: CDP's Network domain reports them to the page target too, on recent Chromium;
  // also watch the targets the page creates (the module worker).
  browser.on("targetcreated", async (target) => {
    if (target.type() !== "worker") return;
    const worker = await target.worker();
    if (!worker) return;
    const session = worker.client;
    await session.send("Network.enable").catch(() => {});
    session.on("Network.requestWillBeSent", (e) => {
      if (!e.request.url.startsWith(origin) && !e.request.url.startsWith("data:")) outside.push(e.request.url);
    });
  });
  const waitDone = async (timeout) => {
    await page.waitForFunction(() => document.querySelector("#elbo-report")?.dataset.state === "done",
                               { timeout, polling: 100 });
  };
  const collect = () => page.evaluate(() => ({
    verdicts: [...document.querySelectorAll("#elbo-report [data-verdict]")].map((e) => e.dataset.verdict),
    status: document.querySelector("#elbo-report").dataset.status ?? null,
    counterexamples: [...document.querySelectorAll("#elbo-report .elbo-counterexample")].map((e) => e.textContent),
    inputError: document.querySelector("#elbo-report .elbo-input-error")?.textContent ?? null,
    failure: document.querySelector("#elbo-report .elbo-failure")?.textContent ?? null,
    katexErrors: document.querySelectorAll("#elbo-report .katex-error").length,
    scopes: [...document.querySelectorAll("#elbo-report .elbo-domain")].map((e) => e.textContent),
    claims: document.querySelectorAll("#elbo-report .elbo-claim-formula .katex").length,
    assumed: [...document.querySelectorAll("#elbo-report .elbo-assume")].map((e) => e.dataset.tex),
  }));
  const check = async (text, name) => {
    await page.evaluate((t) => {
      const source = document.querySelector("#elbo-source");
      source.value = t;
      source.dispatchEvent(new Event("input"));
    }, text);
    const started = Date.now();
    await page.click("#elbo-check");
    await page.waitForFunction(() => document.querySelector("#elbo-report").dataset.state === "running", { timeout: 5000 })
      .catch(() => {});
    await waitDone(300000);
    return { ...(await collect()), seconds: (Date.now() - started) / 1000, name };
  };

  const texts = await Promise.all(files.map((f) => readFile(f, "utf8")));
  // the page's own encoding (checker.mjs encodeFile): base64url of the UTF-8 bytes, no padding
  const link = files.length ? `#toml=${Buffer.from(texts[0], "utf8").toString("base64url")}` : "";
  const opened = Date.now();
  await page.goto(`${origin}/check/${link}`, { waitUntil: "load" });
  if (files.length) {
    await waitDone(300000);
    result.coldSeconds = (Date.now() - opened) / 1000;
    result.link = { ...(await collect()), seconds: result.coldSeconds, opened: link,
                    editor: await page.$eval("#elbo-source", (e) => e.value) };
  }
  for (const [i, file] of files.entries()) {
    result.files[file] = await check(texts[i], file);
  }
  if (files.length) {
    const again = await check(texts[0], files[0]);
    result.warmSeconds = again.seconds;
    result.link.share = await page.evaluate(() => document.querySelector("#elbo-share").getAttribute("href"));
    if (process.env.STOP_TEXT) {
      // a long check, stopped: the report says so (data-state done), the buttons are usable again
      await page.evaluate((t) => { document.querySelector("#elbo-source").value = t; }, process.env.STOP_TEXT);
      await page.click("#elbo-check");
      await page.waitForFunction(() => document.querySelector("#elbo-report").dataset.state === "running",
                                 { timeout: 5000 });
      const running = await page.$eval("#elbo-stop", (b) => !b.disabled);
      await new Promise((ok) => setTimeout(ok, 1500));
      await page.click("#elbo-stop");
      await waitDone(10000);
      result.stop = { ...(await collect()), stopEnabledWhileRunning: running,
                      checkEnabledAfter: await page.$eval("#elbo-check", (b) => !b.disabled) };
    }
  }
} finally {
  await browser.close();
  server.close();
}
await writeFile(out, JSON.stringify(result, null, 2));
