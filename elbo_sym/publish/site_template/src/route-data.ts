// Written by `elbo-sym web --site` (rewritten by the next run): Starlight route middleware.
//
// Astro 5 collects a Markdown heading's text for "On this page" with every "{" written "${"
// (@astrojs/markdown-remark's rehype-collect-headings, a leftover of template escaping for .md
// files), so a title "Bound {x}" is listed as "Bound ${x}". Every "{" of the heading got one "$"
// in front of it, so removing one "$" before each "{" gives the heading's text back exactly
// (a "${" the author typed was listed as "$${").
//
// Starlight writes the <title> element ("Page | Course") as HTML (utils/head.ts builds it from the
// page's and the site's title, components/Head.astro renders it with set:html): a course title
// "</title><script>..." would run as script on every page, a "<!--" would blank them (red team
// rt31). Its text is escaped here, so the browser shows the titles as typed. The other head
// entries carry text only in attributes, which Astro escapes.
import { defineRouteMiddleware } from "@astrojs/starlight/route-data";

type TocItem = { text: string; children: TocItem[] };

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function restore(items: TocItem[]): void {
  for (const item of items) {
    item.text = item.text.replace(/\$\{/g, "{");
    restore(item.children);
  }
}

export const onRequest = defineRouteMiddleware((context) => {
  const route = context.locals.starlightRoute;
  if (route.toc) restore(route.toc.items);
  for (const entry of route.head) {
    if (entry.tag === "title" && typeof entry.content === "string") entry.content = escapeHtml(entry.content);
  }
});
