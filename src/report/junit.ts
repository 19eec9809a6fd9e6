/**
 * JUnit XML, the one test-result format every CI reads (GitHub Actions test
 * reporters, GitLab, Jenkins): each drill becomes a test case, so a failed
 * restore shows up where failed tests do, naming the checks that failed.
 * One <failure> per failed drill, naming every failed check: several readers
 * show only a test case's first result, and would hide the second (the data
 * loss behind a WAL gap). Each case names its drill file (`file`), so GitLab
 * and annotation actions link to it. Written by hand: the format is small and
 * the escaping is the only hard part.
 */
import type { DrillJournal, RunJournal } from '../model/journal.js';
import { passed } from '../model/outcome.js';
import type { CheckResult } from '../model/verdict.js';
import { withoutTempFolders } from './text.js';

/** Characters XML 1.0 does not allow at all, not even escaped (control characters, lone surrogates, U+FFFE/F). */
const FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // Parsers turn a literal CR into LF; the reference keeps it.
  '\r': '&#13;',
};

function text(value: string): string {
  return value.replace(FORBIDDEN, '').replace(/[&<>"'\r]/g, (c) => ENTITIES[c]!);
}

/** Parsers replace literal newlines and tabs in attributes with spaces; references survive. */
function attr(value: string): string {
  return text(value).replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}

function attrs(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([name, value]) => ` ${name}="${attr(String(value))}"`)
    .join('');
}

/** Seconds with three decimals, as JUnit readers expect. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function drillMs(drill: DrillJournal): number {
  if (drill.durationMs !== undefined) return drill.durationMs;
  return drill.endedAt ? Date.parse(drill.endedAt) - Date.parse(drill.startedAt) : 0;
}

/** One element per outcome; a test case counts once, under its outcome. */
type Outcome =
  | { kind: 'passed' }
  | { kind: 'failure'; checks: CheckResult[] }
  | { kind: 'error'; message: string; type: string; detail: string }
  | { kind: 'skipped'; message: string };

/**
 * A failed check is a finding (the backup did not restore as it must), so
 * JUnit's failure; a drill that could not reach a verdict is an error, never
 * a pass; a drill the engine cannot run is skipped, visible but not red.
 */
function outcome(drill: DrillJournal): Outcome {
  if (drill.status === 'unsupported') return { kind: 'skipped', message: `unsupported: ${drill.error ?? 'no reason recorded'}` };
  // The runner's verdict is the worst check's, so a `fail` verdict always has a failed check to name.
  if (drill.verdict === 'fail') return { kind: 'failure', checks: drill.checks.filter((c) => c.verdict === 'fail') };
  if (passed(drill)) return { kind: 'passed' };
  const unknown = drill.checks.filter((c) => c.verdict === 'unknown');
  const detail = [drill.error, ...unknown.map((c) => `${c.name}: ${c.summary}`)].filter((l) => l !== undefined).join('\n');
  if (drill.status === 'completed') {
    const which = unknown.length ? `${unknown.map((c) => c.name).join(', ')} could not decide` : 'no check ran';
    return { kind: 'error', message: `verdict unknown: ${which}`, type: 'unknown-verdict', detail };
  }
  // Aborted, interrupted, or failed after the fault with no failing check to show for it.
  return { kind: 'error', message: drill.error ?? `drill ${drill.status}`, type: drill.errorCode ?? drill.status, detail };
}

function oneLine(value: string): string {
  return value.replace(/\s*\r?\n\s*/g, ' ');
}

/** The check and its evidence, one `key: value` line per field, under the summary: what a person opens the failure for. */
function evidenceText(check: CheckResult): string {
  const fields = Object.entries(check.evidence)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return [`${check.name}: ${check.summary}`, ...fields].join('\n');
}

function outcomeXml(result: Outcome, tidy: (text: string) => string): string[] {
  switch (result.kind) {
    case 'passed':
      return [];
    case 'skipped':
      return [`      <skipped${attrs({ message: tidy(result.message) })}/>`];
    case 'error':
      return [`      <error${attrs({ message: tidy(result.message), type: result.type })}>${text(tidy(result.detail))}</error>`];
    case 'failure': {
      const message = result.checks.map((c) => `${c.name}: ${oneLine(c.summary)}`).join('; ');
      const detail = result.checks.map(evidenceText).join('\n\n');
      return [`      <failure${attrs({ message: tidy(message), type: result.checks.map((c) => c.name).join(', ') })}>${text(tidy(detail))}</failure>`];
    }
  }
}

/** Every check one line, then warnings and the error: the whole story in the CI log view. */
function systemOut(drill: DrillJournal): string {
  return [
    ...drill.checks.map((c) => `${c.verdict.toUpperCase()} ${c.name}: ${oneLine(c.summary)}`),
    ...(drill.warnings ?? []).map((w) => `WARNING ${oneLine(w)}`),
    ...(drill.error ? [`ERROR ${oneLine(drill.error)}`] : []),
  ].join('\n');
}

export function renderJUnit(run: RunJournal): string {
  const cases = run.drills.map((drill) => ({ drill, result: outcome(drill) }));
  const count = (kind: Outcome['kind']) => cases.filter((c) => c.result.kind === kind).length;
  const totalMs = run.endedAt
    ? Date.parse(run.endedAt) - Date.parse(run.startedAt)
    : run.drills.reduce((sum, d) => sum + drillMs(d), 0);
  const totals = {
    tests: cases.length,
    failures: count('failure'),
    errors: count('error'),
    skipped: count('skipped'),
    time: seconds(totalMs),
  };
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: 'restore-drill', ...totals })}>`,
    `  <testsuite${attrs({ name: 'restore-drill', ...totals, timestamp: run.startedAt })}>`,
    '    <properties>',
    // The run id names the reports/ folder with the full journal and logs.
    `      <property${attrs({ name: 'runId', value: run.runId })}/>`,
    `      <property${attrs({ name: 'version', value: run.version })}/>`,
    '    </properties>',
  ];
  // The drills' temp folders are gone when CI reads this; only kept ones are named in full.
  const tidy = withoutTempFolders(run.runId, run.drills.flatMap((d) => d.keptFiles ?? []));
  for (const { drill, result } of cases) {
    lines.push(
      // classname as Jenkins splits it: package restore-drill, class the drill (a drill name has no dot).
      `    <testcase${attrs({ classname: `restore-drill.${drill.name}`, name: drill.name, file: drill.file, time: seconds(drillMs(drill)) })}>`,
      ...outcomeXml(result, tidy),
      `      <system-out>${text(tidy(systemOut(drill)))}</system-out>`,
      '    </testcase>',
    );
  }
  lines.push('  </testsuite>', '</testsuites>');
  return `${lines.join('\n')}\n`;
}
