/**
 * The team's own physical tooling (backup.method script-base-backup): its
 * base-backup script, archive_command and restore_command, run for real in a
 * point-in-time drill. The writes after the backup come back only through
 * the team's restore_command, so one that fetches nothing must fail the
 * drill, and the harness's own WAL copy can never stand in for it.
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDrills } from '../src/drill/load.js';
import { check, drillYaml, runDrills, tempDir, writeDrill } from './helpers.js';

const SCRIPTS = resolve('fixtures/scripts');
const drills = tempDir('team-physical-drills');
const reports = tempDir('team-physical-reports');

/** The workload writes this long after the backup: only the archive holds those writes. */
const AFTER_BACKUP_MS = 8000;

const drillOf = (name: string, restoreCommand: string, rpo: string) =>
  writeDrill(
    drills,
    drillYaml({
      name,
      workload: { rate: 50, lead: '300ms', afterBackup: `${AFTER_BACKUP_MS}ms` },
      backup: {
        method: 'script-base-backup',
        script: join(SCRIPTS, 'base_backup.sh'),
        archiveCommand: `${join(SCRIPTS, 'wal_push.sh')} %p {archive}/%f`,
        restoreCommand,
        archiveTimeout: '1s',
      },
      fault: { type: 'lose-instance' },
      recovery: { procedure: 'point-in-time', target: 'end' },
      targets: { rto: '15m', rpo },
    }),
  );

describe("the team's base backup script and WAL commands", () => {
  it('pass a point-in-time drill: the base backup checked, the archive replayed by the team\'s restore_command', async () => {
    const { journal } = await runDrills([drillOf('team-physical', `${join(SCRIPTS, 'wal_fetch.sh')} {archive}/%f %p`, '1m')], reports);
    const drill = journal.drills[0]!;
    expect(drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(drill.backup).toMatchObject({ method: 'script-base-backup', sidecar: expect.stringMatching(/SHA256SUMS$/), restoreCommand: expect.stringContaining('wal_fetch.sh') });
    expect(check(drill, 'backup-integrity').summary).toMatch(/SHA256SUMS, pg_verifybackup/);
    expect((drill.backup as { detail: { output: string } }).detail.output).toMatch(/Base backup completed/);
    // Less lost than everything written after the backup: the archive was replayed.
    expect(drill.rpo!.measuredMs!).toBeLessThan(AFTER_BACKUP_MS);
    expect(drill.verdict).toBe('pass');
  });

  it('fail when the restore_command fetches nothing: the writes after the backup are lost, and RPO says so', async () => {
    const { journal } = await runDrills([drillOf('team-physical-no-fetch', `${resolve('test/sabotage/wal_fetch_nothing.sh')} {archive}/%f %p`, '5s')], reports);
    const drill = journal.drills[0]!;
    // Everything written after the backup is lost: replay ended where the base backup did.
    expect(drill.rpo!.measuredMs!).toBeGreaterThanOrEqual(AFTER_BACKUP_MS);
    expect(check(drill, 'rpo').verdict).toBe('fail');
    expect(drill.verdict).toBe('fail');
  });

  it('refuse commands that do not name the archive folder, before anything runs', async () => {
    const file = writeDrill(
      drills,
      drillYaml({
        name: 'team-physical-invalid',
        backup: { method: 'script-base-backup', script: join(SCRIPTS, 'base_backup.sh'), archiveCommand: 'cp %p /somewhere/%f', restoreCommand: 'cp /somewhere/%f %p' },
        fault: { type: 'lose-instance' },
        recovery: { procedure: 'point-in-time', target: 'end' },
      }),
    );
    const error = (await loadDrills([file]).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/backup\.archiveCommand: must name the archive folder as \{archive\}/);
    expect(error.message).toMatch(/backup\.restoreCommand: must name the archive folder as \{archive\}/);
  });
});
