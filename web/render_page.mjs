// Render one page as a Starlight site would show it, to a standalone HTML file.
//
//   node web/render_page.mjs PAGE.md OUT.html
//
// The Markdown goes through remark-parse + remark-gfm + remark-math -> remark-rehype ->
// rehype-katex -> rehype-stringify (raw HTML such as <details> kept, as Astro keeps it). The
// front matter's title becomes the <h1>, as Starlight prints it. rehype-katex renders a formula
// KaTeX cannot compile as an element with class "katex-error" (and reports it on stderr), which
// is what a browser test looks for. KaTeX's stylesheet and fonts are linked from
// node_modules/katex/dist. After loading, a small script writes what the browser saw into
// <body data-...>: the number of .katex and .katex-error elements, the font family of the
// first formula, and whether every image loaded -- `chromium --dump-dom` then shows them; with
// every answer opened, the widest box among a counterexample's values and the room they have.

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import yaml from "js-yaml";
import { unified } from "unified";
import remarkParse from "remark-parse";
import remarkGfm from "remark-gfm";
import remarkMath from "remark-math";
import remarkRehype from "remark-rehype";
import rehypeKatex from "rehype-katex";
import rehypeStringify from "rehype-stringify";

const [source, target] = process.argv.slice(2);
if (!source || !target) {
  process.stderr.write("usage: node render_page.mjs PAGE.md OUT.html\n");
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const css = pathToFileURL(join(here, "node_modules", "katex", "dist", "katex.min.css")).href;

const text = readFileSync(source, "utf8");
const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n/.exec(text);
const front = match ? yaml.load(match[1], { schema: yaml.CORE_SCHEMA }) : {};
const body = match ? text.slice(match[0].length) : text;

const file = await unified()
  .use(remarkParse)
  .use(remarkGfm)
  .use(remarkMath)
  .use(remarkRehype, { allowDangerousHtml: true })
  .use(rehypeKatex)
  .use(rehypeStringify, { allowDangerousHtml: true })
  .process(body);
for (const message of file.messages) process.stderr.write(`render_page: ${message}\n`);

const escape = (s) => String(s ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
  .replace(/"/g, "&quot;");
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escape(front.title)}</title>
<meta name="description" content="${escape(front.description)}">
<link rel="stylesheet" href="${css}">
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #23262f;
         background: #ffffff; margin: 0; line-height: 1.65; font-size: 16px; }
  header { border-bottom: 1px solid #e3e5ea; padding: 0.8rem 2rem; font-weight: 600; color: #5a5f6b; }
  main { max-width: 56rem; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
  h1 { font-size: 2.2rem; margin: 0.5rem 0 1.2rem; line-height: 1.2; }
  h2 { font-size: 1.5rem; margin: 2.2rem 0 0.8rem; }
  table { border-collapse: collapse; margin: 1rem 0; font-size: 0.95rem; display: block; overflow-x: auto; }
  th, td { border-bottom: 1px solid #e3e5ea; padding: 0.45rem 0.8rem; }
  th { text-align: left; background: #f6f7f9; }
  details { border: 1px solid #e3e5ea; border-radius: 0.4rem; padding: 0.4rem 1rem; margin: 1rem 0; }
  summary { cursor: pointer; font-weight: 600; }
  img { max-width: 100%; height: auto; }
  .katex-display { overflow-x: auto; overflow-y: hidden; padding: 0.2rem 0; }
</style>
</head>
<body>
<header>Latent variables and the ELBO</header>
<main>
<h1>${escape(front.title)}</h1>
${String(file)}
</main>
<script>
  window.addEventListener("load", function () {
    var first = document.querySelector(".katex");
    var images = Array.prototype.slice.call(document.images);
    document.body.dataset.katexCount = String(document.querySelectorAll(".katex").length);
    document.body.dataset.katexErrors = String(document.querySelectorAll(".katex-error").length);
    document.body.dataset.katexFont = first ? getComputedStyle(first).fontFamily : "";
    document.body.dataset.images = String(images.length);
    document.body.dataset.imagesLoaded = String(images.filter(function (i) {
      return i.complete && i.naturalWidth > 0;
    }).length);
    // a counterexample's values (the block after "A counterexample ..."), every answer opened:
    // the widest box in them, and the width they have (wider = the reader scrolls sideways)
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) { d.open = true; });
    var lists = Array.prototype.filter.call(document.querySelectorAll("main p"), function (p) {
      return p.textContent.indexOf("A counterexample") === 0 && p.nextElementSibling;
    }).map(function (p) { return p.nextElementSibling; });
    document.body.dataset.valueLists = String(lists.length);
    document.body.dataset.valueListWidest = String(Math.max.apply(null, [0].concat(lists.map(function (l) {
      return Math.max.apply(null, [l.scrollWidth].concat(Array.prototype.map.call(
        l.querySelectorAll(".katex-display, .katex"), function (k) { return k.scrollWidth; })));
    }))));
    document.body.dataset.valueListRoom = String(lists.length ? lists[0].clientWidth : 0);
    document.body.dataset.pageScrollWidth = String(document.documentElement.scrollWidth);
    document.body.dataset.pageClientWidth = String(document.documentElement.clientWidth);
  });
</script>
</body>
</html>
`;
writeFileSync(target, html);
