/**
 * The spark-trading runbook's rollback: the data folder set aside before a
 * restore is put back when the restore fails, and the instance must then
 * equal what it was before the restore, every database, row and definition.
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgeRollback } from '../src/checks/rollback.js';
import { clusterState } from '../src/checks/snapshot.js';
import { loadDrills } from '../src/drill/load.js';
import { NativeEngine } from '../src/engines/native/engine.js';
import { withClient } from '../src/pg/client.js';
import { check, drillYaml, processesMentioning, runDrills, tempDir, tempFoldersOf, writeDrill } from './helpers.js';

const SCRIPTS = resolve('fixtures/scripts');
const drills = tempDir('rollback-drills');
const reports = tempDir('rollback-reports');

describe('rollback to the pre-restore copy', () => {
  it('a restore that fails halfway is rolled back: the instance equals its pre-restore state, and the drill still fails', async () => {
    const file = writeDrill(
      drills,
      drillYaml({
        name: 'rollback-after-failed-restore',
        fault: { type: 'drop-table', table: 'candles' },
        recovery: { procedure: 'script', script: join(SCRIPTS, 'broken', 'restore_fails_midway.sh') },
        rollback: true,
      }),
    );
    const { journal } = await runDrills([file], reports);
    const drill = journal.drills[0]!;
    expect(drill.phases.map((p) => p.name)).toEqual(expect.arrayContaining(['set-aside', 'recovery', 'verify', 'rollback']));
    expect(check(drill, 'recovery').verdict).toBe('fail');
    // The script dropped the whole database before it failed: only the copy set aside brings back the tables the fault left.
    expect(check(drill, 'rollback')).toMatchObject({ verdict: 'pass', summary: expect.stringMatching(/the instance equals its pre-restore state, \d+ databases/) });
    expect(drill.verdict).toBe('fail');
    expect(processesMentioning(journal.runId)).toEqual([]);
  }, 300_000);

  it('a recovery that passes is not rolled back', async () => {
    const file = writeDrill(drills, drillYaml({ name: 'rollback-not-needed', rollback: true }));
    const { journal } = await runDrills([file], reports);
    const drill = journal.drills[0]!;
    expect(drill.verdict).toBe('pass');
    expect(drill.phases.map((p) => p.name)).toContain('set-aside');
    expect(drill.phases.map((p) => p.name)).not.toContain('rollback');
    expect(drill.checks.map((c) => c.name)).not.toContain('rollback');
    expect(tempFoldersOf(journal.runId)).toEqual([]);
  }, 300_000);

  it('the comparison catches a rollback that did not bring the instance back', async () => {
    const cache = process.env.RESTORE_DRILL_CACHE;
    process.env.RESTORE_DRILL_CACHE = 'off';
    const engine = await NativeEngine.create({ runId: 'rollbackcmp' });
    const instance = await engine.startInstance('cmp', tempDir('rollback-logs'));
    try {
      await withClient(() => instance.connect('postgres'), (c) => c.query('create table kept (id int primary key); insert into kept select generate_series(1, 100)'));
      const before = await clusterState((db) => instance.connect(db));
      expect(judgeRollback(before, await clusterState((db) => instance.connect(db)), 'test').verdict).toBe('pass');
      // One row changed: the restore that "rolled back" left the instance as it was not.
      await withClient(() => instance.connect('postgres'), (c) => c.query('update kept set id = 1000 where id = 100'));
      const after = await clusterState((db) => instance.connect(db));
      expect(judgeRollback(before, after, 'test')).toMatchObject({ verdict: 'fail', summary: expect.stringContaining('postgres differs') });
      await instance.stop();
      expect(judgeRollback(before, await clusterState((db) => instance.connect(db)), 'test').verdict).toBe('fail');
    } finally {
      await instance.destroy({ keepFiles: false });
      await engine.dispose();
      process.env.RESTORE_DRILL_CACHE = cache;
    }
  }, 120_000);

  it('is refused before anything runs where there is no data folder left to set aside', async () => {
    const file = writeDrill(drills, drillYaml({ name: 'rollback-lost', fault: { type: 'lose-instance' }, backup: { method: 'pg_basebackup' }, recovery: { procedure: 'point-in-time' }, rollback: true }));
    await expect(loadDrills([file])).rejects.toThrow(/rollback-lost\.yaml.*rollback: a rollback sets .* aside.*lose-instance/s);
  });
});
