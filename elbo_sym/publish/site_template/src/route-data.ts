// Written by `elbo-sym web --site` (rewritten by the next run): Starlight route middleware.
//
// Astro 5 collects a Markdown heading's text for "On this page" with every "{" written "${"
// (@astrojs/markdown-remark's rehype-collect-headings, a leftover of template escaping for .md
// files), so a title "Bound {x}" is listed as "Bound ${x}". Every "{" of the heading got one "$"
// in front of it, so removing one "$" before each "{" gives the heading's text back exactly
// (a "${" the author typed was listed as "$${").
import { defineRouteMiddleware } from "@astrojs/starlight/route-data";

type TocItem = { text: string; children: TocItem[] };

function restore(items: TocItem[]): void {
  for (const item of items) {
    item.text = item.text.replace(/\$\{/g, "{");
    restore(item.children);
  }
}

export const onRequest = defineRouteMiddleware((context) => {
  const toc = context.locals.starlightRoute.toc;
  if (toc) restore(toc.items);
});
