// The checker page's picture for `make docs-images` (bench/docs_images.py): open a URL of the
// built site's /check/ page (its #toml=... link checks the file on load), wait until the report
// says data-state="done", and take a screenshot.
//
// stdin: JSON {"chromium": "/usr/bin/chromium", "profile": "/tmp/fresh-dir", "web": "<repo>/web",
//              "url": "http://127.0.0.1:PORT/check/#toml=...", "width": 1100, "height": 1500,
//              "file": "out.png"}
// puppeteer-core is taken from web/node_modules (installed by `make web-deps`).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const request = JSON.parse(readFileSync(0, "utf-8"));
const puppeteer = createRequire(`${request.web}/package.json`)("puppeteer-core");
let browser;
try {
  browser = await puppeteer.launch({
    executablePath: request.chromium, headless: true, userDataDir: request.profile, args: FLAGS,
    ignoreDefaultArgs: ["--enable-automation"],
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(300000);  // Pyodide's first load on a busy 2-core machine
  await page.setViewport({ width: request.width, height: request.height, deviceScaleFactor: 1 });
  await page.goto(request.url, { waitUntil: "load" });
  await page.waitForSelector('[data-state="done"] [data-verdict]');
  await page.screenshot({ path: request.file, type: "png" });
} catch (error) {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
}
