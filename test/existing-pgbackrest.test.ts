/**
 * Drilling a pgBackRest repository the team already has (backup.method
 * existing-pgbackrest): its stanza verified and restored with pgbackrest
 * restore into an empty instance, the archive replayed to its end through
 * archive-get, the repository only read. The rows written after the backup
 * come back only through the archive, so a passing count proves the replay;
 * a damaged file in the backup set fails verify before anything is restored.
 */
import { chmodSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeEngine } from '../src/engines/native/engine.js';
import { flipBytes } from '../src/faults/corrupt-backup.js';
import { check, recoveryOf, runDrills, tempDir, writeDrill } from './helpers.js';
import { makeTeamPgbackrestRepo, TEAM_STANZA } from './team-pgbackrest.js';

const noPgbackrest = (await execa('pgbackrest', ['version'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0 ? undefined : 'pgbackrest is not installed';

/** Every file under a folder with its size and modification time: what "only read" must leave as it was. */
function snapshot(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(`${relative(folder, path)} ${statSync(path).size} ${statSync(path).mtimeMs}`);
    }
  };
  walk(folder);
  return out.sort();
}

describe.skipIf(noPgbackrest !== undefined)(`a pgBackRest repository made elsewhere (backup.method existing-pgbackrest)${noPgbackrest ? ` (skipped: ${noPgbackrest})` : ''}`, () => {
  let engine: NativeEngine;
  let repo = '';
  let after40 = '';
  const drills = tempDir('existing-pgbackrest-drills');
  const reports = tempDir('existing-pgbackrest-reports');

  /** 30 rows in the backup, 15 more only in the archive: all 45 back at its end, 40 at the moment `after40`. */
  const drillOf = (name: string, path: string, stanza = TEAM_STANZA, recovery: Record<string, unknown> = { procedure: 'point-in-time' }, accounts = 45) =>
    writeDrill(drills, {
      name,
      database: 'ledger',
      backup: { method: 'existing-pgbackrest', path, stanza },
      fault: { type: 'production-lost' },
      recovery,
      queries: [{ name: 'accounts', sql: 'select count(*) from accounts', expect: { equals: accounts } }],
      targets: { rto: '15m', rpo: '24h' },
    });

  beforeAll(async () => {
    engine = await NativeEngine.create({ runId: 'pgbackresttest', record: () => undefined });
    ({ repo, after40 } = await makeTeamPgbackrestRepo(engine, tempDir('team-pgbackrest')));
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  it("verifies the team's stanza, restores its newest set and replays its archive to the end; the repository is as it was", async () => {
    const before = snapshot(repo);
    const { journal } = await runDrills([drillOf('pgbackrest-honest', repo)], reports);
    const drill = journal.drills[0]!;
    expect(drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(check(drill, 'backup-integrity').summary).toMatch(/pgbackrest verify/);
    expect(check(drill, 'sql accounts').summary).toBe('45, expected = 45');
    expect(check(drill, 'page-checksums').verdict).toBe('pass');
    expect(drill.backup).toMatchObject({ method: 'existing-pgbackrest', format: 'full', serverMajor: expect.any(Number), detail: { stanza: TEAM_STANZA, set: expect.stringMatching(/F$/) } });
    // Production ran with 60 connections; replay into fewer stops, so passing proves its limits were read.
    expect(String(recoveryOf(drill)?.summary)).toMatch(/^pgbackrest restore --set=\S+F into a new data folder, archived WAL replayed to the end of the archive/);
    expect(snapshot(repo)).toEqual(before);
  });

  it('stops at a time inside the archive given as recovery.at: the rows committed after it do not come back', async () => {
    const file = drillOf('pgbackrest-at-time', repo, TEAM_STANZA, { procedure: 'point-in-time', target: 'time', at: after40 }, 40);
    const drill = (await runDrills([file], reports)).journal.drills[0]!;
    expect(drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(String(recoveryOf(drill)?.summary)).toContain(`--type=time --target=${after40}`);
  });

  it('fails naming the stanza when the repository has none of that name, before anything is restored', async () => {
    const { journal } = await runDrills([drillOf('pgbackrest-no-stanza', repo, 'nosuch')], reports);
    const drill = journal.drills[0]!;
    expect(drill.verdict).toBe('fail');
    expect(check(drill, 'backup').summary).toMatch(/stanza nosuch has no backup to restore/);
  });

  it('fails at pgbackrest verify on a backup set with one damaged file, and restores nothing from it', async () => {
    const damagedFolder = tempDir('team-pgbackrest-damaged');
    chmodSync(damagedFolder, 0o755);
    const damaged = join(damagedFolder, 'repo');
    await execa('cp', ['-a', repo, damaged]);
    // A table's file in the backup set, compressed as pgBackRest stores it.
    const set = readdirSync(join(damaged, 'backup', TEAM_STANZA)).find((name) => /F$/.test(name))!;
    const base = join(damaged, 'backup', TEAM_STANZA, set, 'pg_data', 'base');
    const database = readdirSync(base).map((oid) => join(base, oid)).sort((a, b) => readdirSync(b).length - readdirSync(a).length)[0]!;
    const file = readdirSync(database).map((name) => join(database, name)).find((path) => statSync(path).size > 200)!;
    await flipBytes(file, Math.floor(statSync(file).size / 2), 8);
    const { journal } = await runDrills([drillOf('pgbackrest-damaged', damaged)], reports);
    const drill = journal.drills[0]!;
    expect(drill.verdict).toBe('fail');
    expect(check(drill, 'backup-integrity')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(/pgbackrest verify found the repository damaged: invalid checksum '\S+\/pg_data\/base\//) });
    expect(check(drill, 'sql accounts').verdict).not.toBe('pass');
  });
});
