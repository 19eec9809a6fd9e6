/**
 * Corruption and resource faults: a damaged backup is caught before it is
 * trusted (and the report names which check caught it), the previous good
 * backup is restored; a corrupt page is caught three ways; a full disk fails a
 * backup loudly and never passes its half-written file off as good; a valid
 * but wrong backup is caught by the content checks alone.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sha256File } from '../src/support/sha256.js';
import type { IntegrityReport } from '../src/model/observations.js';
import type { DrillJournal } from '../src/model/journal.js';
import { DrillRun } from '../src/drill/run.js';
import { loadDrills } from '../src/drill/load.js';
import { check, drillYaml, runDrills, tempDir, writeDrill } from './helpers.js';

const drills = tempDir('corruption-drills');
const reports = tempDir('corruption-reports');

async function runOne(overrides: Record<string, unknown>): Promise<DrillJournal> {
  const { journal } = await runDrills([writeDrill(drills, drillYaml(overrides))], reports);
  return journal.drills[0]!;
}

const evidence = (drill: DrillJournal) => check(drill, 'backup-integrity').evidence as { used: string; reports: IntegrityReport[] };

describe('a corrupt backup is caught before it is trusted, and the previous one restored', () => {
  it.each([
    ['custom dump, bytes flipped after the checksum: caught by the sidecar', { format: 'custom' }, { mode: 'flip' }, 'sha256 sidecar'],
    ['custom dump, bytes flipped before the checksum: caught by a full read', { format: 'custom' }, { mode: 'flip', checksum: 'recomputed' }, 'pg_restore --file=/dev/null'],
    ['gzip plain dump, cut short before the checksum: caught by gzip -t', { format: 'plain.gz' }, { mode: 'truncate', checksum: 'recomputed' }, 'gzip -t'],
    ["directory dump, a table's data flipped after its SHA256SUMS: caught by it", { format: 'directory', jobs: 2 }, { mode: 'flip' }, 'SHA256SUMS'],
    ["directory dump, a table's compressed data flipped before its SHA256SUMS: caught by a full read", { format: 'directory', jobs: 2 }, { mode: 'flip', checksum: 'recomputed' }, 'pg_restore --file=/dev/null'],
  ])('%s', async (_label, backup, damage, caughtBy) => {
    const drill = await runOne({
      name: `corrupt-${backup.format.replace('.', '')}-${caughtBy.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/-$/, '')}`,
      backup: { method: 'pg_dump', generations: 2, ...backup },
      fault: { type: 'corrupt-backup', ...damage },
      recovery: { procedure: 'restore-database' },
      targets: { rto: '1h', rpo: '48h' },
    });
    expect(drill.verdict).toBe('pass');
    const { used, reports: checked } = evidence(drill);
    const [newest, previous] = drill.backups!.map((b) => b.path as string).reverse();
    expect(checked[0]).toMatchObject({ path: newest, ok: false, caughtBy });
    expect(used).toBe(previous);
    expect(check(drill, 'backup-integrity').summary).toContain(`caught by ${caughtBy}`);
    // The older backup misses the writes made between the two: the measured loss says so.
    expect(drill.rpo!.lostRows).toBeGreaterThan(0);
  });

  it('a base backup damaged before its checksums were written is caught by pg_verifybackup; WAL replay still reaches the end', async () => {
    const drill = await runOne({
      name: 'corrupt-base',
      backup: { method: 'pg_basebackup', generations: 2 },
      fault: { type: 'corrupt-backup', mode: 'flip', checksum: 'recomputed', then: 'lose-instance' },
      recovery: { procedure: 'point-in-time' },
      targets: { rto: '1h', rpo: '5m' },
    });
    expect(drill.verdict).toBe('pass');
    expect(evidence(drill).reports[0]).toMatchObject({ ok: false, caughtBy: 'pg_verifybackup' });
    expect(drill.rpo!.measuredMs).toBeLessThan(3000);
  });

  it('skipping detection on purpose lets the damage reach the restored data: FAIL', async () => {
    const drill = await runOne({
      name: 'corrupt-unchecked',
      backup: { method: 'pg_dump', generations: 2 },
      fault: { type: 'corrupt-backup', mode: 'flip' },
      recovery: { procedure: 'restore-database', verify: false },
      targets: { rto: '1h', rpo: '48h' },
    });
    expect(check(drill, 'backup-integrity').verdict).toBe('unknown');
    expect(check(drill, 'fingerprint').verdict).toBe('fail');
    expect(drill.verdict).toBe('fail');
  });

  it('heals itself: the damaged backup is put back as it was', async () => {
    const file = writeDrill(drills, drillYaml({ name: 'corrupt-healed', backup: { method: 'pg_dump', generations: 2 }, fault: { type: 'corrupt-backup' }, recovery: { procedure: 'restore-database' }, targets: { rto: '1h', rpo: '48h' } }));
    const run = new DrillRun(await loadDrills([file]), { reportsDir: reports, keep: true, listeners: [] });
    const drill = (await run.run()).drills[0]!;
    expect(drill.phases.find((p) => p.name === 'teardown')!.detail).toMatchObject({ healed: true });
    const newest = drill.backup as { path: string; sha256: string };
    expect(await sha256File(newest.path)).toBe(newest.sha256);
  });
});

describe('a corrupt data page', () => {
  it('is caught by a failing read, pg_amcheck and pg_checksums, then repaired by a table restore', async () => {
    const drill = await runOne({ name: 'corrupt-page', fault: { type: 'corrupt-page', table: 'candles' }, recovery: { procedure: 'restore-table' } });
    const detected = check(drill, 'corruption-detected');
    expect(detected.verdict).toBe('pass');
    const detectors = detected.evidence.detectors as Record<string, { caught: boolean; said: string }>;
    expect(detectors['read']).toMatchObject({ caught: true, said: expect.stringMatching(/invalid page in block \d+/) });
    expect(detectors['pg_checksums --check']).toMatchObject({ caught: true, said: expect.stringMatching(/checksum verification failed/) });
    expect(detectors['pg_amcheck']!.caught).toBe(true);
    expect(check(drill, 'fingerprint').verdict).toBe('pass');
    expect(drill.verdict).toBe('pass');
  });
});

describe('disk full', () => {
  it.runIf(process.getuid?.() === 0)('tonight’s backup fails loudly on a full destination and its half-written file is never taken as good', async () => {
    const drill = await runOne({ name: 'backup-full', fault: { type: 'backup-disk-full' }, recovery: { procedure: 'restore-database' }, targets: { rto: '1h', rpo: '48h' } });
    expect((drill.fault as { error: string }).error).toMatch(/No space left on device/);
    const { used, reports: checked } = evidence(drill);
    const partial = (drill.fault as { partial: string }).partial;
    expect(checked[0]).toMatchObject({ path: partial, ok: false, caughtBy: 'sha256 sidecar' });
    expect(used).not.toBe(partial);
    expect(drill.verdict).toBe('pass');
    expect(readFileSync('/proc/self/mounts', 'utf8')).not.toContain('/tonight ');
  });

  it.runIf(process.getuid?.() === 0)('the data folder fills while the workload writes: the server’s errors recorded, space freed, nothing committed lost', async () => {
    const drill = await runOne({
      name: 'data-full',
      engine: { dataVolume: '96m' },
      fault: { type: 'data-disk-full' },
      recovery: { procedure: 'free-space' },
      targets: { rto: '15m', rpo: '0' },
    });
    const fault = drill.fault as { serverSaid: string[]; workloadError: string };
    expect(fault.workloadError).toMatch(/No space left on device|could not (write|extend)/);
    expect(fault.serverSaid.join('\n')).toMatch(/No space left on device/);
    expect(drill.rpo).toMatchObject({ lostRows: 0 });
    expect(drill.verdict).toBe('pass');
  });
});

describe('a valid but wrong backup', () => {
  it.each([
    ['empty', ['symbols', 'candles', 'orders', 'trades', 'positions']],
    ['partial', ['orders', 'trades']],
    ['other-database', ['symbols', 'candles', 'orders', 'trades', 'positions']],
  ] as const)('(%s) passes every integrity check and restores, and the fingerprints name the tables that differ', async (kind, tables) => {
    const drill = await runOne({ name: `wrong-${kind}`, fault: { type: 'wrong-backup', kind }, recovery: { procedure: 'restore-database' } });
    expect(check(drill, 'backup-integrity').verdict).toBe('pass');
    expect(drill.status).toBe('completed');
    expect(check(drill, 'fingerprint')).toMatchObject({ verdict: 'fail', evidence: { mismatched: [...tables] } });
    expect(drill.verdict).toBe('fail');
  });
});
