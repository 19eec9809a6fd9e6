/**
 * Drilling a base backup and WAL archive the team already has
 * (backup.method existing-base-backup): the team's pg_basebackup folder and
 * archive, only read, replayed to the end of the archive into an empty
 * instance. The rows written after the backup come back only through the
 * WAL, so a passing count proves the replay; a segment missing from the
 * archive fails, naming it.
 */
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeEngine } from '../src/engines/native/engine.js';
import { check, recoveryOf, runDrills, tempDir, writeDrill } from './helpers.js';
import { makeTeamBaseBackup } from './team-base-backup.js';

describe('a base backup and WAL archive made elsewhere (backup.method existing-base-backup)', () => {
  let engine: NativeEngine;
  const team = tempDir('team-physical');
  const drills = tempDir('existing-physical-drills');
  const reports = tempDir('existing-physical-reports');
  /** The segment holding the first rows written after the backup. */
  let afterBackupSegment = '';
  let after40 = '';

  /** 30 rows in the backup, 15 more only in the archive: all 45 back at its end, 40 at the moment `after40`. */
  const drillOf = (name: string, wal: string, base = join(team, 'base'), recovery: Record<string, unknown> = { procedure: 'point-in-time' }, accounts = 45) =>
    writeDrill(drills, {
      name,
      database: 'ledger',
      backup: { method: 'existing-base-backup', path: base, wal },
      fault: { type: 'production-lost' },
      recovery,
      queries: [{ name: 'accounts', sql: 'select count(*) from accounts', expect: { equals: accounts } }],
      targets: { rto: '15m', rpo: '24h' },
    });

  beforeAll(async () => {
    engine = await NativeEngine.create({ runId: 'physicaltest', record: () => undefined });
    ({ afterBackupSegment, after40 } = await makeTeamBaseBackup(engine, team));
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  it('replays the archive to its end into an empty instance and passes; the rows written after the backup are back', async () => {
    const before = readdirSync(join(team, 'wal')).map((f) => [f, statSync(join(team, 'wal', f)).mtimeMs]);
    const { journal } = await runDrills([drillOf('physical-honest', join(team, 'wal'))], reports);
    const drill = journal.drills[0]!;
    expect(drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(check(drill, 'backup-integrity').summary).toMatch(/pg_verifybackup/);
    expect(check(drill, 'wal-archive').verdict).toBe('pass');
    expect(check(drill, 'sql accounts').summary).toBe('45, expected = 45');
    expect(check(drill, 'page-checksums').summary).toMatch(/^pg_checksums --check: \d+ data pages read, every checksum right$/);
    expect(check(drill, 'rpo').summary).toMatch(/the newest archived WAL segment/);
    expect(drill.backup).toMatchObject({ method: 'existing-base-backup', serverMajor: expect.any(Number), replaySettings: { max_connections: expect.any(Number) } });
    expect(drill.verdict).toBe('pass');
    // Only read: the team's archive is as it was.
    expect(readdirSync(join(team, 'wal')).map((f) => [f, statSync(join(team, 'wal', f)).mtimeMs])).toEqual(before);
  });

  it('stops at a time inside the archive given as recovery.at: the rows committed after it do not come back', async () => {
    const file = drillOf('physical-at-time', join(team, 'wal'), join(team, 'base'), { procedure: 'point-in-time', target: 'time', at: after40 }, 40);
    const drill = (await runDrills([file], reports)).journal.drills[0]!;
    expect(drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(String(recoveryOf(drill)?.summary)).toContain(`to time ${after40}`);
  });

  it('fails naming the segment missing from the archive, and the rows after it do not come back', async () => {
    const gapped = tempDir('gapped-wal');
    cpSync(join(team, 'wal'), gapped, { recursive: true });
    rmSync(join(gapped, afterBackupSegment));
    const { journal } = await runDrills([drillOf('physical-gap', gapped)], reports);
    const drill = journal.drills[0]!;
    expect(check(drill, 'wal-archive')).toMatchObject({ verdict: 'fail', summary: expect.stringContaining(afterBackupSegment) });
    expect(check(drill, 'sql accounts').verdict).toBe('fail');
    expect(drill.verdict).toBe('fail');
  });

  it("fails on a page that was already damaged when the team's backup read it: the manifest and the replay vouch for it, its checksum does not", async () => {
    const damaged = tempDir('team-physical-damaged');
    await makeTeamBaseBackup(engine, damaged, { damagedPage: true });
    const { journal } = await runDrills([drillOf('physical-damaged-page', join(damaged, 'wal'), join(damaged, 'base'))], reports);
    const ran = journal.drills[0]!;
    expect(check(ran, 'backup-integrity').verdict).toBe('pass');
    expect(check(ran, 'sql accounts').verdict).toBe('pass');
    expect(check(ran, 'page-checksums')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(/^pg_checksums --check: 1 of \d+ data pages with a wrong checksum; first: checksum verification failed in file ".*", block 1:/) });
    expect(ran.verdict).toBe('fail');
  });
});
