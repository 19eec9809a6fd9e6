/**
 * The Markdown drill report: a view of the journal, rendered with
 * Handlebars. It reads the journal only; it never runs anything.
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { combine, type Verdict } from '../checks/verdict.js';
import { formatDuration } from '../duration.js';
import type { DrillJournal, RunJournal } from '../drill/journal.js';

const TEMPLATE = new URL('../../src/report/templates/report.md.hbs', import.meta.url);

function bytes(n: unknown): string {
  if (typeof n !== 'number') return 'n/a';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
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

function drillView(drill: DrillJournal) {
  const rpo = drill.rpo;
  return {
    ...drill,
    anchor: drill.name.toLowerCase(),
    completed: drill.status === 'completed',
    backupLabel: drill.backup ? `${drill.backup.method} (${drill.backup.format})` : 'n/a',
    faultLabel: (drill.fault?.summary as string | undefined) ?? 'n/a',
    recoveryLabel: (drill.recovery?.procedure as string | undefined) ?? 'n/a',
    rpoLabel:
      rpo?.measuredMs === undefined ? 'n/a' : `${formatDuration(rpo.measuredMs)} (${rpo.lostRows} of ${rpo.committedRows} rows lost)`,
    commandCount: drill.phases.reduce((n, p) => n + p.commands.length, 0),
  };
}

export function renderMarkdown(run: RunJournal): string {
  const template = handlebars().compile(readFileSync(TEMPLATE, 'utf8'), { noEscape: true });
  return template({
    run,
    verdict: combine(run.drills.map((d) => d.verdict ?? 'unknown')),
    drills: run.drills.map(drillView),
  });
}
