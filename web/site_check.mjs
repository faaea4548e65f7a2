// Open pages of a built Starlight site in Debian's Chromium and report what a reader sees.
//
// stdin: JSON {"chromium": "/usr/bin/chromium", "profile": "/tmp/fresh-dir",
//              "base": "http://127.0.0.1:PORT", "paths": ["/derivations/", ...],
//              "widths": [1280, 390], "extraCss": "..." (optional: added to every page, so a
//              test can take the site's own fixes away), "screenshot": {"path": "/worked-example/",
//              "width": 390, "height": 1400, "anchor": "all-quantities", "file": "out.png"} (optional)}
// stdout: JSON {"pages": [{"path": "/derivations/", "width": 390, ...measurements}, ...]}
//
// Each page also reports `failed` (what it could not load: "404 /favicon.svg") and `consoleErrors`.
// Measurements of each page at each width (viewport `width` x 900, mobile at < 800 px), with
// every answer (<details>) in the content opened:
//   katex, katexErrors       .katex and .katex-error elements in the page's content
//   mathmlShown              .katex-mathml elements that take up space (KaTeX's CSS missing:
//                            every formula would show twice)
//   katexFont                the font family of the first formula (KaTeX's fonts loaded?)
//   scrollWidth, clientWidth of the document: the page scrolls sideways when the first is larger
//   column                   the content column's left and right edge
//   overflowing              elements outside the column that are not inside their own scroll
//                            box, and clipping boxes (overflow hidden) whose content is cut off;
//                            each as {tag, cls, text, left, right, width}
//   scrollBoxes              boxes that scroll sideways (overflow-x auto/scroll, content wider)
//   headings                 {id, text} of every h2/h3 in the content
//   text                     the content's text as the reader sees it (innerText)
//   toc, mobileToc           {href, text} of every "On this page" entry (desktop sidebar and the
//                            mobile drop-down; Starlight renders both, CSS shows one)
//   images, imagesLoaded     <img> elements in the content, and those that loaded
//   title                    the header's site title: {text, left, right, top, bottom} of its
//                            text, the viewport's width and the clipping boxes around it; `shown`
//                            the box of the element showing it, `header` the header's box,
//                            `clamp` its line clamp, `hidden` whether the clamp hides text,
//                            `tooltip` the link's title attribute
//   documentTitle            document.title (the tab's title, as the browser parsed <title>)
//   canonical                the page's <link rel="canonical"> href ("" when none)
//   links                    the hrefs of the header's title link and the sidebar's links
//   bodyText                 the length of document.body.innerText (0: a blank page)
// Each page also reports `dialogs`: the alert/confirm/prompt dialogs it opened (dismissed),
// which no page may open (script injected into the page would).
// Chromium is started by puppeteer-core (no browser download) with a fresh profile and the
// flags below; nothing but the given base URL is visited. Exit 0 when the pages were measured
// (the caller judges them), 1 when the browser or a page could not be opened, 2 on bad input.

import { readFileSync } from "node:fs";
import puppeteer from "puppeteer-core";

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let request;
try {
  request = JSON.parse(readFileSync(0, "utf-8"));
} catch (error) {
  process.stderr.write(`bad input: ${error}\n`);
  process.exit(2);
}

function measure() {
  // The site's title in the header (inside measure: page.evaluate sends one function's source):
  // the box of its text (a Range over it, not the link's box, which a clipping parent may cut),
  // the viewport's width, and the box of every element around the text that clips (overflow
  // other than visible: Starlight clips a long title rather than let it cover the buttons).
  function siteTitle() {
    const link = document.querySelector(".site-title");
    if (!link) return null;
    const walker = document.createTreeWalker(link, NodeFilter.SHOW_TEXT);
    const texts = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) if (node.textContent.trim()) texts.push(node);
    const words = texts[0];
    const text = { left: Infinity, right: -Infinity, top: Infinity, bottom: -Infinity };
    for (const node of texts) {  // the text's own boxes, wherever its elements end
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const rect of range.getClientRects()) {
        text.left = Math.min(text.left, rect.left);
        text.right = Math.max(text.right, rect.right);
        text.top = Math.min(text.top, rect.top);
        text.bottom = Math.max(text.bottom, rect.bottom);
      }
    }
    const clips = [];
    for (let el = words ? words.parentElement : link; el && el !== document.documentElement; el = el.parentElement) {
      if (getComputedStyle(el).overflowX !== "visible" || getComputedStyle(el).overflowY !== "visible") {
        const rect = el.getBoundingClientRect();
        clips.push({ tag: el.tagName.toLowerCase(), cls: String(el.className || ""), left: rect.left,
          right: rect.right, top: rect.top, bottom: rect.bottom });
      }
    }
    const shown = (words ? words.parentElement : link).getBoundingClientRect();
    const header = (link.closest("header") || document.body).getBoundingClientRect();
    const span = words ? words.parentElement : link;
    return { text: link.textContent.trim(), left: text.left, right: text.right, top: text.top,
      bottom: text.bottom, viewport: window.innerWidth, clips,
      shown: { left: shown.left, right: shown.right, top: shown.top, bottom: shown.bottom },
      header: { left: header.left, right: header.right, top: header.top, bottom: header.bottom },
      clamp: getComputedStyle(span).webkitLineClamp, hidden: span.scrollHeight > span.clientHeight + 1,
      tooltip: link.getAttribute("title") };
  }

  const column = document.querySelector(".sl-markdown-content");
  const out = { found: Boolean(column) };
  const doc = document.documentElement;
  out.scrollWidth = doc.scrollWidth;
  out.clientWidth = doc.clientWidth;
  out.title = siteTitle();
  out.documentTitle = document.title;
  const canonical = document.querySelector('link[rel="canonical"]');
  out.canonical = canonical ? canonical.getAttribute("href") : "";
  out.links = [...document.querySelectorAll(".site-title, #starlight__sidebar a")].map((a) => a.getAttribute("href"));
  out.bodyText = document.body ? document.body.innerText.length : 0;
  if (!column) return out;
  const box = column.getBoundingClientRect();
  out.column = { left: box.left, right: box.right };
  const describe = (el, rect) => ({
    tag: el.tagName.toLowerCase(), cls: String(el.className && el.className.baseVal !== undefined
      ? el.className.baseVal : el.className || ""),
    text: (el.textContent || "").trim().slice(0, 60), left: rect.left, right: rect.right, width: rect.width,
  });
  const clips = (el) => {
    const style = getComputedStyle(el);
    return style.overflowX !== "visible";
  };
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  out.overflowing = [];
  out.scrollBoxes = [];
  const walk = (el, clipped) => {
    for (const child of el.children) {
      const rect = child.getBoundingClientRect();
      // Not laid out, or visually hidden on purpose (Starlight's "Section titled ..." anchor
      // labels: 1 x 1 px boxes that clip their text for screen readers).
      if (rect.width <= 1 && rect.height <= 1) continue;
      if (!clipped && (rect.left < box.left - 0.5 || rect.right > box.right + 0.5)) {
        out.overflowing.push(describe(child, rect));
      }
      const isClip = clips(child);
      if (isClip && child.scrollWidth > child.clientWidth + 1) {
        if (scrolls(child)) out.scrollBoxes.push(describe(child, rect));
        else out.overflowing.push({ ...describe(child, rect), hidden: child.scrollWidth - child.clientWidth });
      }
      // A formula and an SVG figure are measured as a whole: KaTeX positions its inner
      // spans with negative margins and hides its MathML copy on purpose.
      if (child.matches(".katex, svg")) continue;
      walk(child, clipped || isClip);
    }
  };
  walk(column, false);
  out.katex = column.querySelectorAll(".katex").length;
  out.katexErrors = column.querySelectorAll(".katex-error").length;
  out.mathmlShown = [...column.querySelectorAll(".katex-mathml")].filter((el) => {
    const rect = el.getBoundingClientRect();
    return rect.width > 2 && rect.height > 2;
  }).length;
  const first = column.querySelector(".katex");
  out.katexFont = first ? getComputedStyle(first).fontFamily : "";
  out.headings = [...column.querySelectorAll("h2, h3")].map((h) => ({ id: h.id, text: h.textContent }));
  out.text = column.innerText;
  const entries = (selector) => [...document.querySelectorAll(selector)].map((a) => ({
    href: a.getAttribute("href"), text: a.textContent.trim(),
  }));
  out.toc = entries("starlight-toc nav a");
  out.mobileToc = entries("mobile-starlight-toc nav a");
  const images = [...column.querySelectorAll("img")];
  out.images = images.length;
  out.imagesLoaded = images.filter((img) => img.complete && img.naturalWidth > 0).length;
  return out;
}

// Wait for the fonts and every image: Astro marks images loading="lazy", which a viewport
// 900 px high would never load below the fold (at most 30 s, then measure what is there).
async function settle() {
  // Open every answer (<details> in the content): a collapsed one is not laid out, and what is
  // inside must fit the column too once a reader opens it.
  for (const details of document.querySelectorAll(".sl-markdown-content details")) details.open = true;
  for (const img of document.images) img.loading = "eager";
  const images = [...document.images].map((img) => (img.complete ? null
    : new Promise((done) => { img.addEventListener("load", done); img.addEventListener("error", done); })));
  const timeout = new Promise((done) => setTimeout(done, 30000));
  await Promise.race([Promise.all([document.fonts.ready, ...images]), timeout]);
}

let browser;
try {
  browser = await puppeteer.launch({
    executablePath: request.chromium,
    headless: true,
    userDataDir: request.profile,
    args: FLAGS,
    ignoreDefaultArgs: ["--enable-automation"],
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(120000);  // a busy 2-core CI machine
  const results = [];
  // What each page failed to load (a status of 400 or more, e.g. a missing /favicon.svg) and the
  // errors Chromium's console printed while it loaded.
  let failed = [];
  let consoleErrors = [];
  let dialogs = [];
  page.on("dialog", async (dialog) => { dialogs.push(`${dialog.type()} ${dialog.message()}`); await dialog.dismiss(); });
  page.on("response", (response) => {
    if (response.status() >= 400) failed.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  page.on("console", (message) => { if (message.type() === "error") consoleErrors.push(message.text()); });
  for (const width of request.widths) {
    await page.setViewport({ width, height: 900, deviceScaleFactor: 1, isMobile: width < 800, hasTouch: width < 800 });
    for (const path of request.paths) {
      failed = [];
      consoleErrors = [];
      dialogs = [];
      const response = await page.goto(new URL(path, request.base).href, { waitUntil: "load" });
      if (request.extraCss) await page.addStyleTag({ content: request.extraCss });
      await page.evaluate(settle);
      await page.waitForNetworkIdle({ idleTime: 300, timeout: 10000 }).catch(() => {});  // the icon comes late
      const result = await page.evaluate(measure);
      results.push({ path, width, status: response ? response.status() : 0, failed, consoleErrors, dialogs,
        ...result });
    }
  }
  const shot = request.screenshot;
  if (shot) {
    await page.setViewport({ width: shot.width, height: shot.height, deviceScaleFactor: 1,
      isMobile: shot.width < 800, hasTouch: shot.width < 800 });
    await page.goto(new URL(shot.path, request.base).href, { waitUntil: "load" });
    await page.evaluate(settle);
    if (shot.anchor) {
      await page.evaluate((id) => {
        const el = document.getElementById(id);
        if (el) window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 130);
      }, shot.anchor);
    }
    await page.screenshot({ path: shot.file, type: "png" });
  }
  process.stdout.write(JSON.stringify({ pages: results }) + "\n");
} catch (error) {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
}
