// Compile formulas with KaTeX, and read pages as a Starlight site's Markdown pipeline does.
//
// stdin: JSON {"macros": {...}, "formulas": [{"tex": "...", "display": false}, ...],
//              "pages": {"name.md": "---\nfront matter\n---\nMarkdown", ...}}
// stdout: JSON {"katex": "0.16.x",
//               "formulas": [{"ok": true} | {"ok": false, "error": "..."}, ...],
//               "pages": {"name.md": {"frontmatter": {...} | null, "frontmatterError": "...",
//                                      "math": [{"tex": "...", "display": true}, ...],
//                                      "types": {"heading": 3, "inlineMath": 20, ...},
//                                      "headings": ["plain text of each heading", ...],
//                                      "links": [{"url": "...", "text": "..."}, ...]}}}
//
// Formulas: katex.renderToString(tex, {throwOnError: true, displayMode, macros}) with a fresh
// copy of `macros` each time (KaTeX stores \gdef definitions in it).
// Pages: front matter parsed with js-yaml (what Astro uses), the body with remark-parse +
// remark-gfm + remark-math (Starlight's Markdown with the math plugin); every inlineMath and
// math node is returned, so a caller can compare them with the formulas it meant to write.
// Exit status 0 whenever the input was read (the caller judges the results), 2 on bad input.

import katex from "katex";
import yaml from "js-yaml";
import { unified } from "unified";
import remarkParse from "remark-parse";
import remarkGfm from "remark-gfm";
import remarkMath from "remark-math";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n/;

function textOf(node) {
  if (node.type === "text" || node.type === "inlineCode") return node.value;
  if (node.type === "inlineMath") return `$${node.value}$`;
  return (node.children || []).map(textOf).join("");
}

function readPage(source) {
  const result = { frontmatter: null, math: [], types: {}, headings: [], links: [] };
  const match = FRONT_MATTER.exec(source);
  let body = source;
  if (match) {
    try {
      result.frontmatter = yaml.load(match[1], { schema: yaml.CORE_SCHEMA });
    } catch (error) {
      result.frontmatterError = String(error.message || error);
    }
    body = source.slice(match[0].length);
  }
  const tree = unified().use(remarkParse).use(remarkGfm).use(remarkMath).parse(body);
  const walk = (node) => {
    result.types[node.type] = (result.types[node.type] || 0) + 1;
    if (node.type === "inlineMath" || node.type === "math") {
      result.math.push({ tex: node.value, display: node.type === "math" });
    }
    if (node.type === "heading") result.headings.push(textOf(node));
    if (node.type === "link") result.links.push({ url: node.url, text: textOf(node) });
    (node.children || []).forEach(walk);
  };
  walk(tree);
  return result;
}

let input;
try {
  input = JSON.parse(await readStdin());
} catch (error) {
  process.stderr.write(`katex_check: input is not JSON: ${error.message}\n`);
  process.exit(2);
}

const macros = input.macros || {};
const formulas = (input.formulas || []).map(({ tex, display }) => {
  try {
    katex.renderToString(tex, { throwOnError: true, displayMode: Boolean(display), macros: { ...macros } });
    return { ok: true };
  } catch (error) {
    return { ok: false, error: String(error.message || error) };
  }
});
const pages = {};
for (const [name, source] of Object.entries(input.pages || {})) pages[name] = readPage(source);
process.stdout.write(JSON.stringify({ katex: katex.version, formulas, pages }));
