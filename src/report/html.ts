/**
 * report.html: the Markdown report as one self-contained page, for whoever
 * opens the evidence bundle outside GitHub (an auditor, a browser, a PDF
 * printer). It is report.md itself, turned into HTML by marked (GFM), with
 * each Mermaid chart replaced by the same chart drawn as inline SVG: no
 * script, no font, no request leaves the file, and the text cannot differ
 * from the Markdown's.
 */
import { Marked, type Tokens } from 'marked';
import type { RunJournal } from '../model/journal.js';
import { markdownOf } from './markdown.js';
import { charts, reportView, type ReportContext } from './view.js';

/** GitHub's heading ids, so the summary's links (#drill-name) work here too. */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The only raw HTML the report's Markdown holds: collapsed sections. Anything else is shown as text, never run. */
const ALLOWED_TAGS = /<\/?(details|summary)>/g;

const CSS = `
:root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --border: #d1d9e0; --code: #f6f8fa;
  --measured: #2f81f7; --target: #cf222e; --good: #1a7f37; --phase: #8c959f; --window: rgba(47, 129, 247, 0.12); --window-over: rgba(207, 34, 46, 0.14); }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --border: #3d444d; --code: #151b23;
    --measured: #4493f8; --target: #f85149; --good: #3fb950; --phase: #656c76; --window: rgba(68, 147, 248, 0.18); --window-over: rgba(248, 81, 73, 0.2); }
}
body { font: 15px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; color: var(--fg); background: var(--bg); max-width: 980px; margin: 0 auto; padding: 24px 32px; }
h1 { font-size: 1.7em; border-bottom: 1px solid var(--border); padding-bottom: .3em; }
h2 { font-size: 1.35em; border-bottom: 1px solid var(--border); padding-bottom: .25em; margin-top: 2em; }
h3 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0 0 1em; display: block; overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid var(--border); padding: 4px 10px; text-align: left; vertical-align: top; }
code { background: var(--code); border-radius: 4px; padding: .1em .35em; font: 0.88em ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; overflow-wrap: anywhere; }
pre { background: var(--code); padding: 10px 14px; border-radius: 6px; overflow-x: auto; }
pre code { padding: 0; }
li { margin: .15em 0; }
ul:has(> li > input[type=checkbox]) { list-style: none; padding-left: 1em; }
details { margin: .5em 0; }
summary { cursor: pointer; color: var(--muted); }
a { color: var(--measured); }
svg.chart { display: block; max-width: 100%; height: auto; margin: .5em 0 1em; }
svg.chart text { fill: var(--fg); font: 12px -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
svg.chart text.title { font-size: 13px; font-weight: 600; }
svg.chart text.axis, svg.chart text.value { fill: var(--muted); font-size: 11px; }
svg.chart text.bad { fill: var(--target); }
svg.chart text.good { fill: var(--good); }
svg.chart .bar { fill: var(--measured); }
svg.chart .bar.over { fill: var(--target); }
svg.chart .phase { fill: var(--phase); }
svg.chart .phase.bad { fill: var(--target); }
svg.chart .grid { stroke: var(--border); stroke-width: 1; }
svg.chart .target { stroke: var(--target); stroke-width: 2; stroke-dasharray: 6 3; }
svg.chart .pass-mark { stroke: var(--good); stroke-width: 2; }
svg.chart .window { fill: var(--window); }
svg.chart .window.over { fill: var(--window-over); }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  h2 { break-before: page; }
  table, svg.chart { break-inside: avoid; }
  /* On paper nothing can be clicked open: every collapsed section is printed. */
  details::details-content { content-visibility: visible; display: block; }
}
`;

export function renderHtml(run: RunJournal, context: ReportContext = {}): string {
  const view = reportView(run, context);
  const svgs = new Map(charts(view).map((c) => [c.mermaid, c.svg]));
  const marked = new Marked({
    gfm: true,
    renderer: {
      code({ text, lang }: Tokens.Code) {
        const svg = lang === 'mermaid' ? svgs.get(text) : undefined;
        return svg ? `<figure>${svg}</figure>\n` : `<pre><code>${escapeHtml(text)}</code></pre>\n`;
      },
      heading({ tokens, depth }: Tokens.Heading) {
        const inner = this.parser.parseInline(tokens);
        return `<h${depth} id="${escapeHtml(slug(inner))}">${inner}</h${depth}>\n`;
      },
      html({ text }: Tokens.HTML | Tokens.Tag) {
        return text.replace(ALLOWED_TAGS, '').includes('<') ? escapeHtml(text) : text;
      },
    },
  });
  const body = marked.parse(markdownOf(view), { async: false });
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing may be fetched: the page is evidence, read offline.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeHtml(view.headline)} · restore-drill run ${escapeHtml(run.runId)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
