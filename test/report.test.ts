/**
 * The report's views, rendered from journals built here: what comes first,
 * what a box may tick, how text and paths are shown, and that report.html
 * says what report.md says. test/report-run.test.ts does the same on a real
 * run and opens the page in a browser.
 */
import { describe, expect, it } from 'vitest';
import type { DrillJournal, PhaseJournal, RunJournal } from '../src/model/journal.js';
import type { CheckResult } from '../src/model/verdict.js';
import { consoleProgress } from '../src/cli/progress.js';
import { checklist } from '../src/report/checklist.js';
import { renderHtml } from '../src/report/html.js';
import { renderMarkdown, renderSummary } from '../src/report/markdown.js';
import { mdText, shortDuration, targetLabel, withoutTempFolders } from '../src/report/text.js';

const RUN_ID = '20261122T085649-48b4';
const TMP = `/tmp/rdt-x/restore-drill-${RUN_ID}`;

const check = (name: string, verdict: CheckResult['verdict'], summary: string, evidence: Record<string, unknown> = {}): CheckResult => ({ name, verdict, summary, evidence });

function phases(start: number, names: PhaseJournal['name'][], failed?: PhaseJournal['name']): PhaseJournal[] {
  let at = start;
  return names.map((name) => {
    const durationMs = name === 'verify' ? 60 : 1500;
    const phase: PhaseJournal = {
      name,
      status: name === failed ? 'failed' : 'ok',
      startedAt: new Date(at).toISOString(),
      endedAt: new Date(at + durationMs).toISOString(),
      durationMs,
      commands: [],
      ...(name === failed ? { error: 'boom' } : {}),
    };
    at += durationMs;
    return phase;
  });
}

const ALL_PHASES: PhaseJournal['name'][] = ['setup', 'seed', 'workload', 'baseline', 'backup', 'writes-after-backup', 'fault', 'recovery', 'verify', 'teardown'];
const T0 = Date.parse('2026-11-22T08:56:49.000Z');

/** A passing drill whose newest dump was damaged and passed over, as corrupt-backup records it. */
const corrupt: DrillJournal = {
  name: 'corrupt-backup',
  file: 'drills/corrupt-backup.yaml',
  source: { copy: 'corrupt-backup/drill.yaml', sizeBytes: 512, sha256: 'a'.repeat(64) },
  status: 'completed',
  verdict: 'pass',
  startedAt: new Date(T0).toISOString(),
  endedAt: new Date(T0 + 13_560).toISOString(),
  durationMs: 13_560,
  phases: phases(T0, ALL_PHASES),
  backup: {
    method: 'pg_dump',
    format: 'custom',
    path: `${TMP}-corrupt-backup-27KkZm/backups/market_085654.dump`,
    sidecar: `${TMP}-corrupt-backup-27KkZm/backups/market_085654.dump.sha256`,
    files: [{ name: 'market_085654.dump', sizeBytes: 242_966, sha256: 'c'.repeat(64) }],
    sizeBytes: 242_966,
    sha256: 'c'.repeat(64),
    tool: '/usr/lib/postgresql/15/bin/pg_dump: pg_dump (PostgreSQL) 15.18',
    detail: { database: 'market' },
  } as unknown as DrillJournal['backup'],
  backups: [
    { path: `${TMP}-corrupt-backup-27KkZm/backups/market_085653.dump`, sizeBytes: 242_001, sha256: 'b'.repeat(64) },
    { path: `${TMP}-corrupt-backup-27KkZm/backups/market_085654.dump`, sizeBytes: 242_966, sha256: 'c'.repeat(64) },
  ],
  fault: {
    type: 'corrupt-backup',
    summary: `newest backup damaged (${TMP}-corrupt-backup-27KkZm/backups/market_085654.dump: 8 bytes flipped at offset 50696), then DROP DATABASE market`,
    at: new Date(T0 + 10_600).toISOString(),
    workload: { ratePerSecond: 20, committed: 100, errors: [] },
  } as unknown as DrillJournal['fault'],
  recovery: { procedure: 'restore-database', summary: 'new database market, pg_restore -j 2', backup: `${TMP}-corrupt-backup-27KkZm/backups/market_085653.dump` } as unknown as DrillJournal['recovery'],
  checks: [
    check('backup-integrity', 'pass', `${TMP}-corrupt-backup-27KkZm/backups/market_085654.dump is damaged, caught by sha256 sidecar; restored from the previous good backup ${TMP}-corrupt-backup-27KkZm/backups/market_085653.dump`, {
      used: `${TMP}-corrupt-backup-27KkZm/backups/market_085653.dump`,
      reports: [
        { path: `${TMP}-corrupt-backup-27KkZm/backups/market_085654.dump`, ok: false, caughtBy: 'sha256 sidecar', steps: [{ check: 'sha256 sidecar', ok: false, detail: 'SHA-256 is 3fda… but its sidecar says ce34…' }] },
        { path: `${TMP}-corrupt-backup-27KkZm/backups/market_085653.dump`, ok: true, steps: [{ check: 'sha256 sidecar', ok: true, detail: 'matches' }] },
      ],
    }),
    check('schema', 'pass', 'all 6 tables present', { missingTables: [], missingIndexes: [] }),
    check('row-counts', 'pass', 'row count matches the backup in all 5 tables'),
    check('fingerprint', 'pass', 'content fingerprint matches the backup in all 5 tables'),
    check('rto', 'pass', 'recovered and verified 1.1s after the fault; target 1h 00m'),
    check('rpo', 'pass', '78 of 100 committed ledger rows lost (4.0s of writes); target 48h 00m'),
  ],
  rto: { targetMs: 3_600_000, measuredMs: 1143 },
  rpo: { targetMs: 172_800_000, measuredMs: 4000, lostRows: 78, committedRows: 100 },
  logErrors: [],
};

/** A drill that failed two checks, its files kept, as missing-wal records it. */
const missingWal: DrillJournal = {
  name: 'missing-wal',
  file: 'drills/negative/missing-wal.yaml',
  status: 'completed',
  verdict: 'fail',
  startedAt: new Date(T0 + 14_000).toISOString(),
  endedAt: new Date(T0 + 29_000).toISOString(),
  durationMs: 15_000,
  phases: phases(T0 + 14_000, ALL_PHASES),
  fault: { type: 'missing-wal', summary: 'WAL segment 000000010000000000000004 removed from the archive', at: new Date(T0 + 24_000).toISOString(), workload: { ratePerSecond: 20, committed: 199, errors: [] } } as unknown as DrillJournal['fault'],
  recovery: { procedure: 'point-in-time', summary: `base backup ${TMP}-missing-wal-vppa0C/backups/base_085702 into a new data folder`, archiveGaps: ['000000010000000000000004'] } as unknown as DrillJournal['recovery'],
  checks: [
    check('backup-integrity', 'pass', `${TMP}-missing-wal-vppa0C/backups/base_085702 passed SHA256SUMS, pg_verifybackup`),
    check('wal-archive', 'fail', 'archive has a gap: 000000010000000000000004 missing after the base backup'),
    check('schema', 'pass', 'all 6 tables present', { missingTables: [], missingIndexes: [] }),
    check('row-counts', 'pass', 'row count matches the backup in all 5 tables'),
    check('fingerprint', 'pass', 'content fingerprint matches the backup in all 5 tables'),
    check('rto', 'pass', 'recovered and verified 4.9s after the fault; target 1h 00m'),
    check('rpo', 'fail', '141 of 199 committed ledger rows lost (6.9s of writes); target 0 s (no loss allowed)', { lostRows: 141 }),
  ],
  rto: { targetMs: 3_600_000, measuredMs: 4895 },
  rpo: { targetMs: 0, measuredMs: 6946, lostRows: 141, committedRows: 199 },
  logErrors: [],
  keptFiles: [`${TMP}-missing-wal-vppa0C`],
};

function runOf(...drills: DrillJournal[]): RunJournal {
  return {
    tool: 'restore-drill',
    schemaVersion: 2,
    version: '0.1.0',
    runId: RUN_ID,
    status: 'completed',
    verdict: drills.every((d) => d.verdict === 'pass') ? 'pass' : 'fail',
    startedAt: new Date(T0).toISOString(),
    endedAt: new Date(T0 + 30_000).toISOString(),
    host: { hostname: 'ci', platform: 'linux-x64', node: 'v20.19.0', pid: 1 },
    options: { keep: false, binDir: null, drills: drills.map((d) => d.file) },
    drills,
  };
}

/** The summary table's body rows (header and rule dropped). */
function summaryRows(markdown: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith('| Drill | Scenario |'));
  const rows: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line);
  }
  return rows;
}

describe('report.md leads with the verdict', () => {
  const run = runOf(corrupt, missingWal);
  const markdown = renderMarkdown(run);
  const first15 = markdown.split('\n').slice(0, 15).join('\n');

  it('names the failed drill, its failing checks and why in the first 15 lines', () => {
    expect(markdown.split('\n')[0]).toBe('# ❌ FAIL: missing-wal failed (1 of 2 drills passed)');
    expect(first15).toContain('❌ **[missing-wal](#missing-wal)** failed `wal-archive`, `rpo`: archive has a gap: 000000010000000000000004 missing after the base backup');
  });

  it('has a narrow summary table: scenario by kind, measured against target, no path or SQL', () => {
    const rows = summaryRows(markdown);
    expect(rows).toEqual([
      '| [corrupt-backup](#corrupt-backup) | corrupt-backup → restore-database | ✅ 1.1\u00a0s / 1\u00a0h | ✅ 4.0\u00a0s / 48\u00a0h | ✅ PASS |',
      '| [missing-wal](#missing-wal) | missing-wal → point-in-time | ✅ 4.9\u00a0s / 1\u00a0h | ❌ 6.9\u00a0s / 0\u00a0s (no loss allowed) | ❌ FAIL |',
    ]);
    // "1.1 s / 1 h" is measured against target; a path has a slash against a word.
    for (const row of rows) expect(row.replace(/\]\(#[a-z0-9-]+\)/g, ']')).not.toMatch(/[\w.~-]\/|\/[\w.~]/);
  });

  it('says which backup was restored and which was rejected and why, with paths inside the removed temp folder', () => {
    expect(markdown).toContain('**Backup restored:** `backups/market_085653.dump` (pg_dump, custom, 236.3 KiB, SHA-256 `bbbbbbbbbbbbbbbb…`)');
    expect(markdown).toContain('**Backups rejected:** `backups/market_085654.dump`: caught by sha256 sidecar');
    // The corrupt-backup folder is gone after the run; missing-wal's was kept and is named in full.
    expect(markdown).not.toContain(`${TMP}-corrupt-backup`);
    expect(markdown).toContain(`\`${TMP}-missing-wal-vppa0C\``);
  });

  it('puts the evidence section last: the signing key, the verify command, each drill file and its SHA-256', () => {
    const signed = renderMarkdown(run, { signingKeyFingerprint: 'SHA256:abc', runDir: 'reports/r1' });
    const evidence = signed.slice(signed.indexOf('\n## Evidence'));
    expect(evidence).toContain('signed with Ed25519 (`manifest.sig`), key fingerprint `SHA256:abc`');
    expect(evidence).toContain("restore-drill verify-evidence reports/r1 --public-key <the signer's public key>");
    expect(evidence).toContain(`| corrupt-backup | \`drills/corrupt-backup.yaml\` | \`corrupt-backup/drill.yaml\` | \`${'a'.repeat(64)}\` |`);
    expect(renderMarkdown(run)).toContain('not signed');
  });

  it('draws RTO and RPO as a share of target, the target at 100 %, in set colours', () => {
    const chart = markdown.slice(markdown.indexOf('```mermaid'), markdown.indexOf('```', markdown.indexOf('```mermaid') + 3));
    expect(chart).toContain('plotColorPalette: "#2f81f7, #cf222e"');
    expect(chart).toContain('xychart-beta horizontal');
    expect(chart).toContain('bar [0.032, 0.14]');
    expect(chart).toContain('line [100, 100]');
  });

  it('draws the gantt in seconds from the start, the RTO window, and the failed verdict', () => {
    const gantt = markdown.slice(markdown.indexOf('gantt\n    title missing-wal'));
    expect(gantt).toMatch(/^gantt\n {4}title missing-wal: seconds from the drill's start at 08:57:03 UTC \(2026-11-22\)\n {4}dateFormat x\n {4}axisFormat %s s\n {4}tickInterval 2second\n/);
    expect(gantt).toContain('RTO 4.9 s (target 1 h) :active, 10000, 14895');
    expect(gantt).toContain('FAIL wal-archive, rpo :milestone, crit, ');
  });
});

describe('the whole system table', () => {
  it('names the backup each part was restored from, not the newest taken, and none after a restart', () => {
    const dump = (name: string) => `${TMP}-corrupt-backup-27KkZm/backups/${name}`;
    const withParts: DrillJournal = {
      ...corrupt,
      phases: phases(T0, [...ALL_PHASES.slice(0, -1), 'parts', 'teardown']),
      parts: [
        {
          name: 'cache',
          kind: 'redis',
          backups: [{ path: dump('dump_1.rdb'), sizeBytes: 10, sha256: 'd'.repeat(64), takenAt: new Date(T0).toISOString() }],
          fault: { type: 'kill-server', summary: 'redis-server killed (SIGKILL), its data folder intact', at: new Date(T0 + 10_600).toISOString() },
          recovery: { ok: true, integrity: [] },
          writes: { acknowledged: 10, recovered: 10, lost: 0, unacknowledgedFound: 0, lossMs: 0, afterBackup: 4 },
          durationMs: 200,
          rtoMs: 1500,
        },
      ],
      checks: [...corrupt.checks, check('cache: rto', 'pass', 'back and verified 1.5s after the fault')],
    };
    const table = renderMarkdown(runOf(withParts)).split('\n').filter((line) => /^\| (database|cache) \|/.test(line));
    // The database came back from the older dump (the newest was damaged), the restarted cache from no backup.
    expect(table[0]).toContain('`backups/market_085653.dump`');
    expect(table[0]).not.toContain('market_085654');
    expect(table[1]).toMatch(/^\| cache \| redis \| none restored \| kill-server \|/);
  });
});

describe('the CI job summary', () => {
  it('is the first screen with plain names (no dead links), where the rest is, and the manifest SHA-256', () => {
    const summary = renderSummary(runOf(corrupt, missingWal), { runDir: 'reports/r1', manifestSha256: 'f'.repeat(64) });
    const lines = summary.split('\n');
    expect(lines.slice(0, 15).join('\n')).toContain('❌ **missing-wal** failed `wal-archive`, `rpo`: archive has a gap');
    expect(summary).not.toContain('](#');
    expect(summaryRows(summary)).toHaveLength(2);
    expect(summary).toContain(`\`report.md\` and \`report.html\` in \`reports/r1\`; \`manifest.json\` SHA-256 \`${'f'.repeat(64)}\`, not signed`);
  });
});

describe('the checklist', () => {
  it('ticks no box resting on a check that did not pass, and says why', () => {
    const items = checklist(missingWal);
    const state = Object.fromEntries(items.map((i) => [i.item, i.state]));
    expect(state).toMatchObject({ 'RPO within target': 'unticked', 'WAL archive continuous': 'unticked', 'RTO within target': 'ticked', 'TimescaleDB hypertables, chunks and jobs back': 'not-applicable' });
    expect(items.find((i) => i.item === 'RPO within target')!.why).toBe('rpo failed: 141 of 199 committed ledger rows lost (6.9s of writes); target 0 s (no loss allowed)');
    for (const item of items.filter((i) => i.state === 'ticked')) {
      for (const name of item.checks) expect(missingWal.checks.filter((c) => c.name === name).every((c) => c.verdict === 'pass')).toBe(true);
    }
  });

  it('ticks nothing a drill that restored nothing did not show: procedure none, a check that could not decide, a crashed recovery', () => {
    const none: DrillJournal = {
      ...missingWal,
      recovery: { procedure: 'none', summary: 'no recovery' } as unknown as DrillJournal['recovery'],
      checks: [check('schema', 'fail', 'missingTables: candles'), check('row-counts', 'unknown', 'check crashed: boom'), check('rto', 'fail', 'not recovered')],
      logErrors: ['postgresql.log: ERROR: relation "candles" does not exist'],
    };
    const ticked = checklist(none).filter((i) => i.state === 'ticked').map((i) => i.item);
    expect(ticked).toEqual([]);
    const why = Object.fromEntries(checklist(none).map((i) => [i.item, i.why]));
    expect(why['Restore completed']).toBe('recovery procedure none: nothing was restored');
    expect(why['Row counts match']).toBe('row-counts could not decide: check crashed: boom');
    expect(why['Data queries work']).toBe('not evidenced: no fingerprint or source-fingerprint check ran');
    expect(why['No errors in logs']).toMatch(/^the servers logged postgresql\.log: ERROR/);
    const failedRecovery = { ...missingWal, recovery: { procedure: 'point-in-time', error: 'pg_ctl: could not start server' } } as DrillJournal;
    expect(checklist(failedRecovery).find((i) => i.item === 'Restore completed')).toMatchObject({ state: 'unticked', why: 'the point-in-time procedure failed: pg_ctl: could not start server' });
  });

  it('renders unticked boxes as such in report.md, with the reason', () => {
    const markdown = renderMarkdown(runOf(missingWal));
    expect(markdown).toContain('- [ ] **RPO within target** (not ticked): rpo failed: 141 of 199');
    expect(markdown).toContain('- [x] **RTO within target**: rto passed');
    expect(markdown).toMatch(/^Not applicable here: .*TimescaleDB hypertables, chunks and jobs back \(no TimescaleDB in this drill\)/m);
    expect(markdown).toMatch(/^Not applicable here: .*Restore equals the source at the backup \(its fingerprint\), every table and row \(no fingerprint came with the backup\)/m);
  });
});

describe('text as the reports print it', () => {
  it('escapes what would start markup, keeping snake_case readable', () => {
    expect(mdText('price * 100 where a|b <script> [x](y) market_20261122 _x_ &amp;')).toBe('price \\* 100 where a\\|b \\<script\\> \\[x\\](y) market_20261122 \\_x\\_ &amp;amp;');
  });

  it('cuts removed temp folders out of paths, keeps kept ones whole, and marks the cut in commands', () => {
    const tidy = withoutTempFolders(RUN_ID, [`${TMP}-kept-AAAAAA`]);
    expect(tidy(`cp -a ${TMP}-a-XXXXXX/data '${TMP}-b-YYYYYY/data'`)).toBe("cp -a data 'data'");
    expect(withoutTempFolders(RUN_ID, [], '…/')(`cp -a ${TMP}-a-XXXXXX/data ${TMP}-b-YYYYYY/data`)).toBe('cp -a …/data …/data');
    expect(tidy(`${TMP}-kept-AAAAAA/backups/x.dump`)).toBe(`${TMP}-kept-AAAAAA/backups/x.dump`);
    expect(tidy(`in ${TMP}-a-XXXXXX.`)).toBe("in the instance's temp folder.");
    // Another run's folder is not this run's to rewrite.
    expect(tidy('/tmp/restore-drill-20250101T000000-0000-a-XXXXXX/x')).toBe('/tmp/restore-drill-20250101T000000-0000-a-XXXXXX/x');
  });

  it('says what a zero target means, and keeps units with their numbers', () => {
    expect(targetLabel(0)).toBe('0\u00a0s (no loss allowed)');
    const durations = [682, 4_895, 900_000, 3_600_000, 172_800_000, 259_200_000, 5_400_000].map(shortDuration);
    expect(durations.map((d) => d.replace(/\u00a0/g, '_'))).toEqual(['682_ms', '4.9_s', '15_min', '1_h', '48_h', '3_d', '1_h 30_min']);
  });
});

describe('report.html', () => {
  const run = runOf(corrupt, missingWal);
  const html = renderHtml(run);

  it('is one self-contained page: inline CSS and SVG, no script, nothing fetched', () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html).toContain("default-src 'none'");
  });

  it('says what report.md says, each Mermaid chart drawn as SVG', () => {
    const markdown = renderMarkdown(run);
    expect(html.match(/<svg class="chart"/g)).toHaveLength(markdown.match(/```mermaid/g)!.length);
    expect(html).not.toContain('```');
    expect(html).toContain('<h1 id="-fail-missing-wal-failed-1-of-2-drills-passed">❌ FAIL: missing-wal failed (1 of 2 drills passed)</h1>');
    expect(html).toContain('<h2 id="missing-wal">missing-wal</h2>');
    expect(html).toContain('<a href="#missing-wal">missing-wal</a>');
    expect(html).toContain('<input disabled="" type="checkbox"> <strong>RPO within target</strong> (not ticked)');
  });

  it('draws no timeline for a drill stopped before its first phase', () => {
    const page = renderHtml(runOf({ ...missingWal, phases: [], status: 'interrupted', verdict: 'unknown' }));
    expect(page).toContain('<p>No phase ran.</p>');
    expect(page.match(/<svg class="chart"/g)).toHaveLength(2);
  });

  it('shows markup in a journal as text, never as markup', () => {
    const nasty = { ...missingWal, checks: [check('rpo', 'fail', 'lost <script>alert(1)</script> & <b>rows</b>')] };
    const page = renderHtml(runOf(nasty));
    expect(page).not.toContain('<script>');
    expect(page).toContain('lost &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;rows&lt;/b&gt;');
  });
});

describe('console progress', () => {
  it('prints one line per phase, at its end, keeps the heartbeat, and shows paths as the report does', () => {
    const lines: string[] = [];
    const progress = consoleProgress((line) => lines.push(line));
    const run = runOf(missingWal);
    progress.drillStarted?.(run, missingWal);
    for (const phase of missingWal.phases) {
      progress.phaseStarted?.(run, missingWal, phase);
      if (phase.name === 'recovery') progress.phaseProgress?.(run, missingWal, phase, 5000, 'replaying WAL');
      progress.phaseEnded?.(run, missingWal, phase);
    }
    progress.drillEnded?.(run, { ...missingWal, keptFiles: [] });
    expect(lines.filter((l) => /^ {2}[✓✗] missing-wal: /.test(l))).toHaveLength(missingWal.phases.length);
    expect(lines.filter((l) => l.includes('…'))).toEqual([]);
    expect(lines).toContain('    missing-wal: recovery 5.0s — replaying WAL');
    expect(lines).toContain('    PASS    backup-integrity: backups/base_085702 passed SHA256SUMS, pg_verifybackup');
  });
});

