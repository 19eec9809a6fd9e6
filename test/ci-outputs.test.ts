/** CI outputs of a run: JUnit XML, Prometheus textfile, and the drill history. Pure: journals are built by hand. */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DrillJournal, RunJournal } from '../src/model/journal.js';
import type { CheckResult } from '../src/model/verdict.js';
import { InputError } from '../src/errors.js';
import { appendHistory, entriesFor, freshness, lastRuns, readHistory, type HistoryEntry } from '../src/history/history.js';
import { renderJUnit } from '../src/report/junit.js';
import { renderPrometheus } from '../src/report/metrics.js';
import { writeFileAtomically } from '../src/support/files.js';

function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `rd-test-${label}-`));
}

const pass = (name: string, summary: string, evidence: Record<string, unknown> = {}): CheckResult => ({ name, verdict: 'pass', summary, evidence });

function drill(overrides: Partial<DrillJournal> & Pick<DrillJournal, 'name'>): DrillJournal {
  return {
    file: `drills/${overrides.name}.yaml`,
    status: 'completed',
    verdict: 'pass',
    startedAt: '2025-03-04T02:00:00.000Z',
    endedAt: '2025-03-04T02:01:30.000Z',
    durationMs: 90_250,
    engine: { kind: 'native', binaries: '/usr/lib/postgresql/16/bin', server: '16.4 (Debian 16.4-1.pgdg120+1)', major: 16, timescaledb: null },
    phases: [],
    checks: [],
    ...overrides,
  };
}

const tableDrop = drill({
  name: 'table-drop',
  checks: [
    pass('schema', 'all 4 tables, 6 indexes, 3 constraints and 2 sequences present; no sequence behind its column'),
    pass('fingerprint', 'content fingerprint matches the backup in all 4 tables'),
    pass('rto', 'recovered and verified 41.2s after the fault; target 15m', { measuredMs: 41_200, targetMs: 900_000 }),
    pass('rpo', '0 of 212 committed ledger rows lost (0ms of writes); target 24h', { lostRows: 0, targetMs: 86_400_000 }),
  ],
  rto: { targetMs: 900_000, measuredMs: 41_200 },
  rpo: { targetMs: 86_400_000, measuredMs: 0, lostRows: 0, committedRows: 212 },
});

const pitr = drill({
  name: 'pitr-bad-update',
  verdict: 'fail',
  startedAt: '2025-03-04T02:01:30.000Z',
  endedAt: '2025-03-04T02:04:10.000Z',
  durationMs: 160_004,
  engine: { kind: 'docker', image: 'timescale/timescaledb:latest-pg16', server: '16.4', major: 16, timescaledb: '2.17.2' },
  checks: [
    pass('schema', 'all 4 tables present'),
    {
      name: 'fingerprint',
      verdict: 'fail',
      summary: 'content fingerprint differs from the moment before the bad write in trades',
      evidence: { mismatched: ['trades'], tables: { trades: { expected: 'a1f3', found: '9c0e' } } },
    },
    pass('rto', 'recovered and verified 2m 10s after the fault; target 15m', { measuredMs: 130_000, targetMs: 900_000 }),
    {
      name: 'rpo',
      verdict: 'fail',
      summary: '37 of 480 committed ledger rows lost (4.1s of writes); target 0ms',
      evidence: { lostRows: 37, lossMs: 4100, targetMs: 0 },
    },
  ],
  rto: { targetMs: 900_000, measuredMs: 130_000 },
  rpo: { targetMs: 0, measuredMs: 4100, lostRows: 37, committedRows: 480 },
});

const aborted = drill({
  name: 'corrupt-dump',
  status: 'aborted',
  verdict: 'unknown',
  durationMs: 3_400,
  error: 'pg_dump exited 1: connection to server on socket failed',
  errorCode: 'COMMAND_FAILED',
});

const unsupported = drill({
  name: 'disk-full',
  status: 'unsupported',
  verdict: 'unknown',
  durationMs: 12,
  error: 'disk-full / restore-dump needs sizeLimitedVolume on the native engine: mounting needs root',
});

const run: RunJournal = {
  tool: 'restore-drill',
  schemaVersion: 2,
  version: '0.1.0',
  runId: '20250304T020000-ab12',
  status: 'completed',
  startedAt: '2025-03-04T02:00:00.000Z',
  endedAt: '2025-03-04T02:04:12.500Z',
  host: { hostname: 'ci-runner-3', platform: 'linux-x64', node: 'v20.19.0', pid: 4242 },
  options: { keep: false, binDir: null, drills: [] },
  drills: [tableDrop, pitr, aborted, unsupported],
};

/** The testcase element of one drill, from its opening tag to its closing tag. */
function testcase(xml: string, name: string): string {
  const match = new RegExp(`<testcase [^>]*name="${name}"[^>]*>([\\s\\S]*?)</testcase>`).exec(xml);
  if (!match) throw new Error(`no testcase ${name} in:\n${xml}`);
  return match[0];
}

describe('JUnit XML', () => {
  const xml = renderJUnit(run);

  it('counts each drill once, under its outcome', () => {
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')).toBe(true);
    expect(xml).toContain(
      '<testsuite name="restore-drill" tests="4" failures="1" errors="1" skipped="1" time="252.500" timestamp="2025-03-04T02:00:00.000Z">',
    );
    expect(xml.match(/<testcase /g)).toHaveLength(4);
    expect(xml).toContain('<property name="runId" value="20250304T020000-ab12"/>');
  });

  it('passes a drill whose checks all passed, with every check in system-out', () => {
    const passing = testcase(xml, 'table-drop');
    expect(passing).toContain('classname="restore-drill.table-drop" name="table-drop" file="drills/table-drop.yaml" time="90.250"');
    expect(passing).not.toMatch(/<(failure|error|skipped)/);
    expect(passing).toContain('PASS rto: recovered and verified 41.2s after the fault; target 15m\n');
    expect(passing.match(/(^|<system-out>)PASS /gm)).toHaveLength(4);
  });

  it('gives a failed drill exactly one failure, naming every failed check (rpo included) with its evidence', () => {
    const failing = testcase(xml, 'pitr-bad-update');
    // Several readers show only a test case's first result: a second <failure> would hide the data loss.
    const failures = [...failing.matchAll(/<failure message="([^"]*)" type="([^"]*)">([^<]*)<\/failure>/g)];
    expect(failures).toHaveLength(1);
    const [, message, type, body] = failures[0]!;
    expect(type).toBe('fingerprint, rpo');
    expect(message).toBe(
      'fingerprint: content fingerprint differs from the moment before the bad write in trades; rpo: 37 of 480 committed ledger rows lost (4.1s of writes); target 0ms',
    );
    expect(body).toContain('fingerprint: content fingerprint differs');
    expect(body).toContain('mismatched: [&quot;trades&quot;]');
    expect(body).toContain('rpo: 37 of 480');
    expect(body).toContain('lostRows: 37');
    expect(failing).toContain('time="160.004"');
    expect(failing).toContain('file="drills/pitr-bad-update.yaml"');
    expect(failing).toContain('FAIL rpo: 37 of 480');
  });

  it('makes an aborted drill an error and an unsupported one skipped', () => {
    expect(testcase(xml, 'corrupt-dump')).toContain(
      '<error message="pg_dump exited 1: connection to server on socket failed" type="COMMAND_FAILED">pg_dump exited 1: connection to server on socket failed</error>',
    );
    expect(testcase(xml, 'disk-full')).toContain(
      '<skipped message="unsupported: disk-full / restore-dump needs sizeLimitedVolume on the native engine: mounting needs root"/>',
    );
  });

  it('makes a completed drill with a crashed check an error naming that check', () => {
    const crashed = drill({
      name: 'crash',
      verdict: 'unknown',
      checks: [pass('schema', 'ok'), { name: 'row-counts', verdict: 'unknown', summary: 'check crashed: boom', evidence: {} }],
    });
    const out = renderJUnit({ ...run, drills: [crashed] });
    expect(out).toContain('errors="1"');
    expect(out).toContain('<error message="verdict unknown: row-counts could not decide" type="unknown-verdict">row-counts: check crashed: boom</error>');
  });

  it('escapes markup and strips characters XML 1.0 forbids', () => {
    const nasty = drill({
      name: 'nasty',
      verdict: 'fail',
      checks: [{ name: 'schema', verdict: 'fail', summary: `missing <"t&1"> it's\u0007 gone`, evidence: { note: 'a\u0000b' } }],
    });
    const out = renderJUnit({ ...run, drills: [nasty] });
    expect(out).toContain('<failure message="schema: missing &lt;&quot;t&amp;1&quot;&gt; it&apos;s gone" type="schema">');
    expect(out).toContain('>schema: missing &lt;&quot;t&amp;1&quot;&gt; it&apos;s gone\nnote: ab</failure>');
    expect(out).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/);
    // Apart from the declaration and tags, no raw markup character is left in any text or attribute.
    const body = out.replace(/^<\?xml[^>]*\?>/, '').replace(/<\/?[a-z-]+(\s+[a-zA-Z]+="[^"<>]*")*\s*\/?>/g, '');
    expect(body).not.toMatch(/[<>"]|&(?!(amp|lt|gt|quot|apos|#\d+);)/);
  });
});

describe('Prometheus textfile', () => {
  const history: HistoryEntry[] = [
    ...entriesFor({ ...run, runId: '20250301T020000-0001', drills: [{ ...pitr, verdict: 'pass', endedAt: '2025-03-01T02:04:00.000Z' }] }),
    ...entriesFor({ ...run, runId: '20250302T020000-0002', drills: [{ ...pitr, verdict: 'pass', endedAt: '2025-03-02T02:04:00.000Z' }] }),
    ...entriesFor({ ...run, runId: '20250303T020000-0003', drills: [{ ...pitr, endedAt: '2025-03-03T02:04:00.000Z' }] }),
  ];
  const text = renderPrometheus(run, history);
  const lines = text.split('\n');

  it('writes HELP and TYPE, then one gauge per drill, omitting what was not measured', () => {
    expect(lines).toContain('# TYPE drill_success gauge');
    expect(lines).toContain('drill_success{drill="table-drop"} 1');
    expect(lines).toContain('drill_success{drill="pitr-bad-update"} 0');
    expect(lines).toContain('drill_success{drill="corrupt-dump"} 0');
    expect(lines).toContain('drill_rto_seconds{drill="table-drop"} 41.2');
    expect(lines).toContain('drill_rpo_seconds{drill="pitr-bad-update"} 4.1');
    expect(lines).toContain('drill_rpo_lost_rows{drill="pitr-bad-update"} 37');
    expect(lines).toContain('drill_last_run_timestamp_seconds{drill="disk-full"} 1741053690');
    expect(lines.filter((l) => l.startsWith('drill_rto_seconds'))).toHaveLength(2);
    expect(text).not.toContain('drill_rto_seconds{drill="corrupt-dump"}');
    // Every family announces itself before its first sample.
    for (const name of ['drill_success', 'drill_rto_seconds', 'drill_rpo_seconds', 'drill_rpo_lost_rows', 'drill_last_run_timestamp_seconds']) {
      const help = lines.indexOf(lines.find((l) => l.startsWith(`# HELP ${name} `))!);
      expect(help).toBeGreaterThanOrEqual(0);
      expect(lines[help + 1]).toBe(`# TYPE ${name} gauge`);
      expect(lines[help + 2]).toMatch(new RegExp(`^${name}\\{`));
    }
    expect(text.endsWith('\n')).toBe(true);
  });

  it('takes last success from this run, else from the newest pass in the history, else 0 (never passed)', () => {
    const success = lines.filter((l) => l.startsWith('drill_last_success_timestamp_seconds{'));
    // 0, not absent: an alert on the age of the last success fires for a drill that never passed too.
    expect(success).toEqual([
      'drill_last_success_timestamp_seconds{drill="table-drop"} 1741053690',
      `drill_last_success_timestamp_seconds{drill="pitr-bad-update"} ${Date.parse('2025-03-02T02:04:00.000Z') / 1000}`,
      'drill_last_success_timestamp_seconds{drill="corrupt-dump"} 0',
      'drill_last_success_timestamp_seconds{drill="disk-full"} 0',
    ]);
  });

  it('states each measured drill\'s targets, so "measured over target" needs no drill file', () => {
    expect(lines).toContain('drill_rto_target_seconds{drill="table-drop"} 900');
    expect(lines).toContain('drill_rpo_target_seconds{drill="pitr-bad-update"} 0');
    expect(lines.filter((l) => l.startsWith('drill_rto_target_seconds{'))).toHaveLength(2);
  });

  it('escapes label values', () => {
    const out = renderPrometheus({ ...run, drills: [drill({ name: 'a\\b"c\nd' })] });
    expect(out).toContain('drill_success{drill="a\\\\b\\"c\\nd"} 1\n');
  });

  it('replaces the textfile whole, leaving no temp file', async () => {
    const dir = tempDir('prom');
    const path = join(dir, 'textfile', 'restore_drill.prom');
    await writeFileAtomically(path, 'old\n');
    await writeFileAtomically(path, text);
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(readdirSync(join(dir, 'textfile'))).toEqual(['restore_drill.prom']);
  });
});

describe('history', () => {
  it('appends without touching earlier lines and reads back what it wrote', async () => {
    const path = join(tempDir('history'), 'nested', 'history.jsonl');
    const first = { ...run, runId: 'run-1' };
    await appendHistory(path, first);
    const before = readFileSync(path);
    expect(before.toString().split('\n')).toHaveLength(5); // four lines and the final newline
    const second = { ...run, runId: 'run-2', drills: [tableDrop] };
    await appendHistory(path, second);
    const after = readFileSync(path);
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    expect(await readHistory(path)).toEqual([...entriesFor(first), ...entriesFor(second)]);
    const [entry] = entriesFor(second);
    expect(entry).toEqual({
      runId: 'run-2',
      drill: 'table-drop',
      file: 'drills/table-drop.yaml',
      startedAt: '2025-03-04T02:00:00.000Z',
      endedAt: '2025-03-04T02:01:30.000Z',
      status: 'completed',
      verdict: 'pass',
      rtoTargetMs: 900_000,
      rtoMs: 41_200,
      rpoTargetMs: 86_400_000,
      rpoMs: 0,
      lostRows: 0,
      engine: 'native, PostgreSQL 16.4',
    });
    expect(entriesFor(first)[1]!.engine).toBe('docker timescale/timescaledb:latest-pg16, PostgreSQL 16.4, TimescaleDB 2.17.2');
  });

  it('keeps a torn last line on its own line, so only that line is reported', async () => {
    const path = join(tempDir('history'), 'history.jsonl');
    writeFileSync(path, '{"runId":"run-0","dri');
    await appendHistory(path, { ...run, drills: [tableDrop] });
    expect(readFileSync(path, 'utf8').split('\n')[1]).toBe(JSON.stringify(entriesFor({ ...run, drills: [tableDrop] })[0]));
    await expect(readHistory(path)).rejects.toThrow(/history\.jsonl:1: not a drill history entry: not JSON/);
  });

  it('skips blank lines and names a malformed line by number, with the fix', async () => {
    const path = join(tempDir('history'), 'history.jsonl');
    const good = JSON.stringify(entriesFor(run)[0]);
    writeFileSync(path, `${good}\n\n${good}\n`);
    expect(await readHistory(path)).toHaveLength(2);
    writeFileSync(path, `${good}\n\n${good}\n{"runId":"r","drill":"x"}\n`);
    const error = await readHistory(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(new RegExp(`^${path.replace(/[.\\/]/g, '\\$&')}:4: not a drill history entry: file: `));
    expect((error as InputError).message).toContain('fix or delete line 4');
    expect(await readHistory(join(tempDir('history'), 'none.jsonl'))).toEqual([]);
  });

  const day = 86_400_000;
  const entry = (drillName: string, endedAt: string, verdict: 'pass' | 'fail', status: DrillJournal['status'] = 'completed'): HistoryEntry => ({
    runId: `run-${endedAt}`,
    drill: drillName,
    file: `drills/${drillName}.yaml`,
    startedAt: endedAt,
    endedAt,
    status,
    verdict,
  });
  const history: HistoryEntry[] = [
    entry('table-drop', '2025-03-01T02:00:00.000Z', 'pass'),
    entry('pitr', '2025-02-01T02:00:00.000Z', 'pass'),
    entry('table-drop', '2025-03-03T02:00:00.000Z', 'fail'),
    entry('pitr', '2025-03-03T02:00:00.000Z', 'fail'),
    entry('never', '2025-03-03T02:00:00.000Z', 'fail'),
    // Checks that ran passed, but the drill broke after the fault: not a pass.
    entry('never', '2025-03-03T03:00:00.000Z', 'pass', 'failed'),
  ];

  it('marks drills whose last pass is too old, or that never passed, as stale', () => {
    const rows = freshness(history, new Date('2025-03-04T02:00:00.000Z'), 7 * day);
    expect(rows).toEqual([
      { drill: 'never', maxAgeMs: 7 * day, stale: true, lastVerdict: 'pass' },
      { drill: 'pitr', lastSuccess: '2025-02-01T02:00:00.000Z', ageMs: 31 * day, maxAgeMs: 7 * day, stale: true, lastVerdict: 'fail' },
      { drill: 'table-drop', lastSuccess: '2025-03-01T02:00:00.000Z', ageMs: 3 * day, maxAgeMs: 7 * day, stale: false, lastVerdict: 'fail' },
    ]);
    expect(freshness(history, new Date('2025-03-04T02:00:00.000Z'), 2 * day).find((r) => r.drill === 'table-drop')!.stale).toBe(true);
  });

  it("judges each drill against its own cadence, and a drill expected but never run is stale, not silence", () => {
    const rows = freshness(history, new Date('2025-03-04T02:00:00.000Z'), 7 * day, [
      { drill: 'pitr', maxAgeMs: 90 * day }, // quarterly
      { drill: 'table-drop', maxAgeMs: 1 * day }, // daily
      { drill: 'shard-never-ran' },
    ]);
    expect(rows.find((r) => r.drill === 'pitr')).toMatchObject({ maxAgeMs: 90 * day, stale: false });
    expect(rows.find((r) => r.drill === 'table-drop')).toMatchObject({ maxAgeMs: 1 * day, stale: true });
    expect(rows.find((r) => r.drill === 'shard-never-ran')).toEqual({ drill: 'shard-never-ran', maxAgeMs: 7 * day, stale: true, lastVerdict: 'unknown', neverRan: true });
  });

  it('lists the last runs of a drill, newest last', () => {
    expect(lastRuns(history, 'pitr', 5).map((e) => e.endedAt)).toEqual(['2025-02-01T02:00:00.000Z', '2025-03-03T02:00:00.000Z']);
    expect(lastRuns(history, 'table-drop', 1).map((e) => e.verdict)).toEqual(['fail']);
    expect(lastRuns(history, 'table-drop', 0)).toEqual([]);
  });
});
