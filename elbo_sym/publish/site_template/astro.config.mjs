// @ts-check
// Written by `elbo-sym web --site` (rewritten by the next run): an Astro 5 + Starlight 0.37
// site, for Node 20 (Debian's) or newer. Build it with `npm ci && npm run build`.
//
// Math: remark-math finds $...$ and $$...$$ in the pages, rehype-katex typesets it, through
// Astro 5's `markdown.remarkPlugins` / `markdown.rehypePlugins` (Astro 7 replaces these with
// `markdown.processor`). KaTeX's stylesheet is in `customCss`: without it every formula shows
// twice (once typeset, once as its MathML text). src/styles/elbo-sym.css makes wide tables
// and display equations scroll inside their own box, never the page.
//
// SmartyPants is off: Astro would turn an author's typed --, ... and straight quotes into
// dashes, an ellipsis and curly quotes. The pages already hold the characters they mean: an
// author's prose set as the PDF handouts set it, elbo-sym's own words with their apostrophes.
//
// `site` is the address from elbo-sym.toml's site_url, `base` its path: a site served under
// https://example.edu/week5 has every link, script and style under /week5/.
//
// The checker page (/check/): check-runtime.mjs copies Pyodide and KaTeX's module build from
// node_modules into public/check-engine/ when a build starts, so the site serves them itself.
import { defineConfig, passthroughImageService } from "astro/config";
import starlight from "@astrojs/starlight";
import remarkMath from "remark-math";
import rehypeKatex from "rehype-katex";
import { checkRuntime } from "./check-runtime.mjs";

export default defineConfig({
  __SITE_URL__
  markdown: {
    smartypants: false,
    remarkPlugins: [remarkMath],
    rehypePlugins: [rehypeKatex],
  },
  // The pages' images are SVG figures: nothing to optimise, so no `sharp` is needed.
  image: { service: passthroughImageService() },
  integrations: [
    checkRuntime,
    starlight({
      title: __SITE_TITLE__,
      customCss: ["katex/dist/katex.min.css", "./src/styles/elbo-sym.css"],
      routeMiddleware: "./src/route-data.ts",  // "On this page" lists a heading's { as typed; <title> escaped
      components: { SiteTitle: "./src/components/SiteTitle.astro" },  // a long title: clamped, with an ellipsis
    }),
  ],
});
