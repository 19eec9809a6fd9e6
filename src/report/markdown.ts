/**
 * The Markdown drill report: a view of the journal, rendered with
 * Handlebars. It reads the journal only; it never runs anything.
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import type { DrillJournal, RunJournal } from '../model/journal.js';
import { runVerdict } from '../model/outcome.js';
import type { Verdict } from '../model/verdict.js';
import { formatBytes, formatDuration } from '../support/units.js';

const TEMPLATES = new URL('../../src/report/templates/', import.meta.url);
const template = (name: string) => readFileSync(new URL(name, TEMPLATES), 'utf8');

function bytes(n: unknown): string {
  return typeof n === 'number' ? formatBytes(n) : 'n/a';
}

function handlebars(): typeof Handlebars {
  const hb = Handlebars.create();
  // Markdown, not HTML: escape what breaks a table cell, nothing else.
  hb.registerHelper('cell', (text: unknown) => String(text ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' '));
  hb.registerHelper('duration', (ms: unknown) => formatDuration(typeof ms === 'number' ? ms : undefined));
  hb.registerHelper('bytes', bytes);
  hb.registerHelper('json', (value: unknown) => JSON.stringify(value, null, 2));
  hb.registerHelper('indent', (text: string) => text.split('\n').map((l) => `  ${l}`).join('\n'));
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('gt', (a: unknown, b: unknown) => typeof a === 'number' && typeof b === 'number' && a > b);
  hb.registerHelper('verdictBadge', (v: Verdict | undefined) => ({ pass: '✅ PASS', fail: '❌ FAIL', unknown: '❔ UNKNOWN' })[v ?? 'unknown']);
  hb.registerHelper('rowsLabel', (rows: Record<string, number> | undefined) =>
    Object.entries(rows ?? {})
      .map(([table, n]) => `${table} ${n.toLocaleString('en-US')}`)
      .join(', '),
  );
  return hb;
}

const PHASE_STATE: Record<string, string> = { ok: 'done', failed: 'crit', running: 'active' };

/** The phases as a Mermaid gantt chart (GitHub and GitLab draw it); times in epoch milliseconds. */
function gantt(drill: DrillJournal): string {
  const lines = ['gantt', `    title ${drill.name}`, '    dateFormat x', '    axisFormat %H:%M:%S', '    section Phases'];
  for (const phase of drill.phases) {
    const start = Date.parse(phase.startedAt);
    const end = phase.endedAt ? Date.parse(phase.endedAt) : start;
    lines.push(`    ${phase.name} :${PHASE_STATE[phase.status] ?? 'done'}, ${start}, ${Math.max(end, start + 1)}`);
  }
  const fault = drill.fault?.at;
  if (fault) lines.push('    section Fault', `    fault :milestone, crit, ${Date.parse(fault)}, 0ms`);
  return lines.join('\n');
}

interface ChecklistItem {
  item: string;
  /** true done, false not done, undefined: nothing in the journal says. */
  done?: boolean;
  evidence: string;
}

/** The runbooks' monthly drill checklist, ticked from evidence in the journal, never by hand. */
function checklist(drill: DrillJournal): ChecklistItem[] {
  const check = (name: string) => drill.checks.find((c) => c.name === name);
  const phase = (name: string) => drill.phases.find((p) => p.name === name);
  const schemaCheck = check('schema');
  const schema = schemaCheck?.evidence as { missingTables?: unknown; missingIndexes?: unknown } | undefined;
  /** Present when the schema was read; when the database could not be, nothing was seen present. */
  const objects = (list: 'missingTables' | 'missingIndexes', what: string): Omit<ChecklistItem, 'item'> => {
    if (!schemaCheck) return { evidence: 'no schema check ran' };
    const missing = schema?.[list];
    if (!Array.isArray(missing)) return { done: false, evidence: `schema: ${schemaCheck.summary}` };
    return { done: missing.length === 0, evidence: missing.length ? `missing: ${missing.join(', ')}` : `schema: every ${what} present` };
  };
  const integrity = check('backup-integrity');
  const from = (name: string) => {
    const found = check(name);
    return found ? { done: found.verdict === 'pass', evidence: `${name}: ${found.summary}` } : { evidence: `no ${name} check ran` };
  };
  return [
    {
      item: 'Backup file accessible',
      ...(integrity
        ? { done: integrity.verdict === 'pass', evidence: `backup-integrity: ${integrity.summary}` }
        : phase('backup')
          ? { done: phase('backup')!.status === 'ok', evidence: `backup phase ${phase('backup')!.status}` }
          : { evidence: 'no backup was taken' }),
    },
    {
      item: 'Restore completed successfully',
      ...(phase('recovery')
        ? { done: phase('recovery')!.status === 'ok', evidence: recoveryText(drill) ?? phase('recovery')!.status }
        : { evidence: 'no recovery ran' }),
    },
    { item: 'All tables present', ...objects('missingTables', 'table') },
    { item: 'Row counts match', ...from('row-counts') },
    { item: 'Indexes created', ...objects('missingIndexes', 'index') },
    { item: 'Data queries work', ...from('fingerprint') },
    {
      item: 'No errors in logs',
      ...(drill.logErrors
        ? { done: drill.logErrors.length === 0, evidence: drill.logErrors.length ? drill.logErrors.slice(0, 3).join(' / ') : 'no ERROR, FATAL or PANIC after recovery' }
        : { evidence: 'no server log after a recovery' }),
    },
  ];
}

/** What the recovery did, or how it failed. */
function recoveryText(drill: DrillJournal): string | undefined {
  const recovery = drill.recovery;
  if (!recovery) return undefined;
  return 'error' in recovery ? recovery.error : recovery.summary;
}

/** Everything that did not go to plan, in one list a person reads first. */
function wentWrong(drill: DrillJournal): string[] {
  return [
    ...(drill.error ? [`${drill.status}: ${drill.error}`] : []),
    ...drill.phases.filter((p) => p.status === 'failed' && p.error).map((p) => `phase ${p.name} failed: ${p.error}`),
    ...drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name} ${c.verdict}: ${c.summary}`),
    ...(drill.warnings ?? []),
  ];
}

/** RTO and RPO over the drill's recent runs: a table, and a Mermaid chart once there are two. */
function trend(run: RunJournal, drill: DrillJournal) {
  const rows = run.recentRuns?.[drill.name] ?? [];
  const seconds = (ms?: number) => (ms === undefined ? 0 : Math.round(ms / 100) / 10);
  const chart =
    rows.length < 2
      ? undefined
      : [
          'xychart-beta',
          `    title "${drill.name}: RTO and RPO (s) over the last ${rows.length} runs"`,
          `    x-axis [${rows.map((_, i) => `"${i + 1}"`).join(', ')}]`,
          '    y-axis "seconds"',
          `    line [${rows.map((r) => seconds(r.rtoMs)).join(', ')}]`,
          `    line [${rows.map((r) => seconds(r.rpoMs)).join(', ')}]`,
        ].join('\n');
  return { rows, chart };
}

function drillView(run: RunJournal, drill: DrillJournal) {
  const rpo = drill.rpo;
  return {
    gantt: gantt(drill),
    checklist: checklist(drill),
    wentWrong: wentWrong(drill),
    trend: trend(run, drill),
    ...drill,
    anchor: drill.name.toLowerCase(),
    completed: drill.status === 'completed',
    backupLabel: drill.backup ? `${drill.backup.method} (${drill.backup.format})` : 'n/a',
    faultLabel: drill.fault?.summary ?? 'n/a',
    recoveryLabel: drill.recovery?.procedure ?? 'n/a',
    rpoLabel:
      rpo?.measuredMs === undefined
        ? 'n/a'
        : rpo.total
          ? `total: all ${rpo.committedRows} rows lost`
          : `${formatDuration(rpo.measuredMs)} (${rpo.lostRows} of ${rpo.committedRows} rows lost)`,
    commandCount: drill.phases.reduce((n, p) => n + p.commands.length, 0),
  };
}

function view(run: RunJournal) {
  return {
    run,
    verdict: run.verdict ?? runVerdict(run.drills),
    drills: run.drills.map((drill) => drillView(run, drill)),
  };
}

/** The whole report: the summary, then each drill. */
export function renderMarkdown(run: RunJournal): string {
  const hb = handlebars();
  hb.registerPartial('summary', template('summary.md.hbs'));
  return hb.compile(template('report.md.hbs'), { noEscape: true })(view(run));
}

/** The summary alone: the status line and the table (for a CI job's step summary). */
export function renderSummary(run: RunJournal): string {
  return handlebars().compile(template('summary.md.hbs'), { noEscape: true })(view(run));
}
