/**
 * The Markdown drill report and the CI job summary, rendered with Handlebars
 * from the report's view (view.ts). Views of the journal: they never run
 * anything. The view escapes every text it takes from the journal, so the
 * templates insert it as it is.
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import type { RunJournal } from '../model/journal.js';
import { reportView, type ReportContext, type ReportView } from './view.js';

const TEMPLATES = new URL('../../src/report/templates/', import.meta.url);
const template = (name: string) => readFileSync(new URL(name, TEMPLATES), 'utf8');

function compile(name: string): (view: ReportView & { linkDrills: boolean }) => string {
  const hb = Handlebars.create();
  hb.registerPartial('summary', template('summary.md.hbs'));
  // Markdown, not HTML: the view has escaped what needs escaping.
  return hb.compile(template(name), { noEscape: true, strict: false });
}

/** The whole report from a view: the verdict, what failed, the summary, each drill, the evidence. */
export function markdownOf(view: ReportView): string {
  return compile('report.md.hbs')({ ...view, linkDrills: true });
}

export function renderMarkdown(run: RunJournal, context: ReportContext = {}): string {
  return markdownOf(reportView(run, context));
}

/**
 * The CI job summary ($GITHUB_STEP_SUMMARY): the report's first screen, with
 * plain drill names (the drill sections are not in it), and where the rest is.
 */
export function renderSummary(run: RunJournal, context: ReportContext = {}): string {
  const view = reportView(run, context);
  const where = context.runDir ?? `reports/${run.runId}`;
  const evidence = view.evidence.manifest ? `; \`manifest.json\` SHA-256 ${view.evidence.manifest}, ${view.evidence.signed}` : '';
  return `${compile('summary.md.hbs')({ ...view, linkDrills: false })}\nThe full report, with each drill's checks, checklist and timeline: \`report.md\` and \`report.html\` in \`${where}\`${evidence}.\n`;
}
