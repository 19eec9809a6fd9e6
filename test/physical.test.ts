/**
 * Physical backups: pg_basebackup with WAL archiving, point-in-time recovery
 * to each kind of target, a lost instance, and a WAL segment missing from the
 * archive, with the data loss counted from the workload.
 */
import { execFileSync } from 'node:child_process';
import { openSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { sleep } from '../src/support/clock.js';
import { unprivilegedUser } from '../src/engines/shared/os-user.js';
import { findPgBinaries } from '../src/engines/shared/binaries.js';
import type { DrillJournal } from '../src/model/journal.js';
import type { RecoveryMarker } from '../src/model/moments.js';
import { DrillRun } from '../src/drill/run.js';
import { loadDrills } from '../src/drill/load.js';
import { check, drillYaml, recoveryOf, runDrills, tempDir, writeDrill } from './helpers.js';

const drills = tempDir('physical-drills');
const reports = tempDir('physical-reports');

const physical = (overrides: Record<string, unknown>) =>
  drillYaml({
    backup: { method: 'pg_basebackup', archiveTimeout: '1s' },
    workload: { rate: 50, lead: '300ms', afterBackup: '1500ms', afterFault: '700ms' },
    targets: { rto: '2h', rpo: '5m' },
    ...overrides,
  });

async function runOne(overrides: Record<string, unknown>): Promise<DrillJournal> {
  const { journal } = await runDrills([writeDrill(drills, physical(overrides))], reports);
  return journal.drills[0]!;
}

const target = (drill: DrillJournal) => (drill.fault as { target: RecoveryMarker }).target;

describe('point-in-time recovery to just before a bad write', () => {
  it.each(['time', 'lsn', 'xid', 'name'] as const)('to the %s recorded before it: the damage undone, nothing before it lost, nothing after it back', async (kind) => {
    const drill = await runOne({ name: `pitr-${kind}`, fault: { type: 'bad-write' }, recovery: { procedure: 'point-in-time', target: kind } });
    expect(drill.verdict).toBe('pass');
    expect(check(drill, 'fingerprint').summary).toBe('content fingerprint matches the moment before the bad write in all 5 tables');
    expect(drill.recovery).toMatchObject({ target: kind, timeline: 2 });
    const rpo = drill.rpo!;
    expect(rpo).toMatchObject({ lostRows: 0, measuredMs: 0, pastTargetRows: 0 });
    expect(rpo.afterTargetRows).toBeGreaterThan(0);
    // Ledger rows are numbered from 1 and all acknowledged: those before the target are exactly 1 .. firstSeqAfter-1.
    expect(rpo.committedRows).toBe(target(drill).firstSeqAfter - 1);
  });

  it('without recovery, the bad write shows: the fingerprint of trades differs', async () => {
    const drill = await runOne({ name: 'bad-write-unrecovered', fault: { type: 'bad-write' }, recovery: { procedure: 'none' } });
    expect(check(drill, 'fingerprint')).toMatchObject({ verdict: 'fail', summary: 'content fingerprint differs from the moment before the bad write in trades' });
  });

  it('an independent count of the recovered ledger, on the restored cluster started by hand, equals what the harness reports', async () => {
    const file = writeDrill(drills, physical({ name: 'pitr-counted', fault: { type: 'bad-write' }, recovery: { procedure: 'point-in-time', target: 'time' } }));
    const run = new DrillRun(await loadDrills([file]), { reportsDir: reports, keep: true, listeners: [] });
    const drill = (await run.run()).drills[0]!;
    expect(drill.verdict).toBe('pass');
    const restored = drill.keptFiles!.find((dir) => dir.includes('-restored-'))!;
    const { binDir } = await findPgBinaries();
    const runAs = unprivilegedUser();
    const as = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
    // Our own way in: trust on the kept cluster's private socket, a server of our own, psql.
    writeFileSync(join(restored, 'data', 'pg_hba.conf'), 'local all all trust\n');
    const server = execa(join(binDir, 'postgres'), ['-D', join(restored, 'data'), '-c', 'listen_addresses=', '-c', `unix_socket_directories=${join(restored, 'sock')}`, '-c', 'port=5999', '-c', 'archive_mode=off'], { ...as, reject: false });
    try {
      let counted: string | undefined;
      for (let attempt = 0; attempt < 100 && counted === undefined; attempt++) {
        const psql = await execa(join(binDir, 'psql'), ['-h', join(restored, 'sock'), '-p', '5999', '-U', 'postgres', '-d', 'market', '-Atc', 'select count(*) || \' \' || max(seq) from drill_ledger'], { ...as, reject: false });
        if (psql.exitCode === 0) counted = psql.stdout.trim();
        else await sleep(100);
      }
      const [count, max] = counted!.split(' ').map(Number);
      expect(count).toBe(drill.rpo!.recoveredRows);
      expect(max).toBe(target(drill).firstSeqAfter - 1);
      expect(count).toBe(drill.rpo!.committedRows);
    } finally {
      server.kill('SIGINT');
      await server;
      await execa('rm', ['-rf', ...drill.keptFiles!]);
    }
  });
});

describe('lost instance → base backup + WAL archive to its end', () => {
  it('comes back with at most the unarchived tail lost', async () => {
    const drill = await runOne({ name: 'lost', workload: { rate: 50, lead: '300ms', afterBackup: '2s' }, fault: { type: 'lose-instance' }, recovery: { procedure: 'point-in-time', target: 'end' } });
    expect(drill.verdict).toBe('pass');
    expect(check(drill, 'wal-archive').verdict).toBe('pass');
    // archive_timeout is 1 s: what was not archived yet is at most about that much writing.
    expect(drill.rpo!.measuredMs).toBeLessThan(3000);
    expect(drill.rpo!.recoveredRows).toBeGreaterThan(0);
  });
});

describe('a WAL segment missing from the archive', () => {
  it('is named before replay, replay stops at it, and the measured loss fails the RPO target', async () => {
    const drill = await runOne({
      name: 'missing-wal',
      workload: { rate: 50, lead: '300ms', afterBackup: '2s' },
      fault: { type: 'missing-wal', writeAfterGap: '2s' },
      recovery: { procedure: 'point-in-time', target: 'end' },
      targets: { rto: '1h', rpo: '0' },
    });
    const missing = (drill.fault as { missingSegment: string }).missingSegment;
    expect(check(drill, 'wal-archive')).toMatchObject({ verdict: 'fail', summary: expect.stringContaining(`${missing} missing`) });
    // Replay stops inside the missing segment: at its first byte, or later where the
    // base backup's own streamed WAL already held the start of that segment.
    const lsn = (text: string) => { const [hi, lo] = text.split('/'); return BigInt(`0x${hi}`) * 2n ** 32n + BigInt(`0x${lo}`); };
    const segmentBytes = 16n * 1024n * 1024n;
    const start = BigInt(`0x${missing.slice(8, 16)}`) * 2n ** 32n + BigInt(`0x${missing.slice(16, 24)}`) * segmentBytes;
    const stopped = lsn(recoveryOf(drill)!.replayStoppedAt as string);
    expect(stopped >= start && stopped < start + segmentBytes).toBe(true);
    expect(check(drill, 'rpo').verdict).toBe('fail');
    expect(drill.rpo!.lostRows).toBeGreaterThan(0);
    expect(drill.rpo!.measuredMs).toBeGreaterThan(2000);
    expect(drill.verdict).toBe('fail');
  });
});

describe('the base backup', () => {
  it('lists every file with size and SHA-256 in a SHA256SUMS that sha256sum -c accepts, and was checked by pg_verifybackup', async () => {
    const file = writeDrill(drills, physical({ name: 'base-artifact', fault: { type: 'lose-instance' }, recovery: { procedure: 'point-in-time' } }));
    let sums = '';
    const run = new DrillRun(await loadDrills([file]), {
      reportsDir: reports,
      keep: false,
      listeners: [{ phaseEnded: (_run, d, phase) => void (phase.name === 'backup' && (sums = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: d.backup!.path as string, encoding: 'utf8' }))) }],
    });
    const drill = (await run.run()).drills[0]!;
    expect(sums.trim().split('\n').sort()).toEqual(['backup_manifest: OK', 'base.tar.gz: OK', 'pg_wal.tar.gz: OK']);
    const backup = drill.backup as { files: Array<{ name: string; sizeBytes: number; sha256: string }>; detail: { verified: string } };
    expect(backup.files.map((f) => f.name).sort()).toEqual(['backup_manifest', 'base.tar.gz', 'pg_wal.tar.gz']);
    for (const file of backup.files) expect(file).toMatchObject({ sizeBytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(backup.detail.verified).toMatch(/backup successfully verified/);
  });

  it('a changed byte in base.tar.gz is caught before replay, and no recovery is attempted from it', async () => {
    const file = writeDrill(drills, physical({ name: 'base-tampered', fault: { type: 'lose-instance' }, recovery: { procedure: 'point-in-time' } }));
    const run = new DrillRun(await loadDrills([file]), {
      reportsDir: reports,
      keep: false,
      listeners: [
        {
          // Damage the artifact between the backup and the recovery, as a bad disk or upload would.
          phaseEnded: (_run, drill, phase) => {
            if (phase.name !== 'fault') return;
            const fd = openSync(join(drill.backup!.path as string, 'base.tar.gz'), 'r+');
            writeSync(fd, Buffer.from([0x00, 0xff, 0x00]), 0, 3, 1000);
            closeSync(fd);
          },
        },
      ],
    });
    const drill = (await run.run()).drills[0]!;
    expect(drill.status).toBe('failed');
    expect(recoveryOf(drill)?.error).toMatch(/no usable backup/);
    expect(check(drill, 'backup-integrity')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(/caught by SHA256SUMS \(.*base\.tar\.gz: SHA-256 is [0-9a-f]{64}, expected/) });
    expect(check(drill, 'recovery').verdict).toBe('fail');
    expect(drill.verdict).toBe('fail');
  });
});

describe('pgBackRest: full + incremental, archive-push, restore --type', () => {
  it.each(['lsn', 'xid', 'name', 'time'] as const)('restores to the %s before the bad write', async (kind) => {
    const drill = await runOne({
      name: `pgbackrest-${kind}`,
      backup: { method: 'pgbackrest', archiveTimeout: '1s' },
      fault: { type: 'bad-write' },
      recovery: { procedure: 'point-in-time', target: kind },
    });
    expect(drill.verdict).toBe('pass');
    expect(drill.rpo).toMatchObject({ lostRows: 0, pastTargetRows: 0 });
    expect(String(recoveryOf(drill)?.summary)).toMatch(new RegExp(`^pgbackrest restore --type=${kind} --target=`));
    const backup = drill.backup as { format: string; files: Array<{ name: string; sha256: string; sizeBytes: number }>; detail: { sets: Array<{ type: string }> } };
    expect(backup.format).toBe('full + incr');
    expect(backup.files).toHaveLength(2);
    expect(backup.files[1]!.name).toMatch(/^\d{8}-\d{6}F_\d{8}-\d{6}I\/backup\.manifest$/);
  });

  it('rebuilds a lost instance to the end of the archive', async () => {
    const drill = await runOne({
      name: 'pgbackrest-lost',
      backup: { method: 'pgbackrest', archiveTimeout: '1s' },
      workload: { rate: 50, lead: '300ms', afterBackup: '2s' },
      fault: { type: 'lose-instance' },
      recovery: { procedure: 'point-in-time', target: 'end' },
    });
    expect({ status: drill.status, error: drill.error }).toEqual({ status: 'completed', error: undefined });
    expect(drill.verdict).toBe('pass');
    expect(drill.rpo!.measuredMs).toBeLessThan(3000);
    // The source's limits were recorded with the backup: the rebuilt server starts with at least these.
    expect(drill.backup!.replaySettings).toMatchObject({ max_connections: expect.any(Number), max_worker_processes: expect.any(Number) });
  });
});

describe('standby failover', () => {
  it('promotes the streaming standby after the primary is killed mid-write', async () => {
    const drill = await runOne({
      name: 'failover',
      backup: { method: 'standby' },
      fault: { type: 'kill-server' },
      recovery: { procedure: 'failover' },
      targets: { rto: '15m', rpo: '5m' },
    });
    expect(drill.verdict).toBe('pass');
    expect(drill.recovery).toMatchObject({ promoted: 'failover-standby' });
    expect((drill.backup as { detail: { replication: { state: string } } }).detail.replication.state).toBe('streaming');
    expect(check(drill, 'fingerprint').verdict).toBe('pass');
    expect(drill.phases.find((p) => p.name === 'teardown')!.detail).toMatchObject({ instances: ['failover', 'failover-standby'] });
  });
});
