/**
 * Recovery procedures as the runbooks do them, done right: every backup is
 * checked against its checksums before it is trusted.
 *  - restore-table: one table back into the live database (`pg_restore --clean`
 *    with a list that carries its indexes, constraints and sequences);
 *  - restore-database: a new database, `pg_restore -j N`, wrapped in
 *    timescaledb_pre_restore()/post_restore() when the archive has TimescaleDB;
 *  - point-in-time: the base backup into a new data folder, the archived WAL
 *    replayed to the target, then promoted;
 *  - failover: the hot standby promoted after the primary died;
 *  - restart: the killed server started on its own data (crash recovery);
 *  - none: nothing, to show what an unrecovered fault looks like.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BackupArtifact } from '../backup/artifact.js';
import { unpackBaseBackup } from '../backup/basebackup.js';
import { verifyArtifact, type IntegrityReport } from '../backup/integrity.js';
import { promote } from '../backup/standby.js';
import { runScript } from '../backup/script.js';
import { tail } from '../exec/command.js';
import { pgbackrestRestore } from '../backup/pgbackrest.js';
import { quoteIdent } from '../checks/state.js';
import type { Engine } from '../engines/engine.js';
import type { Instance } from '../engines/instance.js';
import type { DrillSpec } from '../drill/spec.js';
import type { CheckResult } from '../drill/journal.js';
import { archiveGaps, archivedSegments } from '../backup/wal.js';
import { BackupIntegrityError, UnsupportedError } from '../errors.js';
import type { FaultResult, RecoveryTarget } from '../faults/inject.js';
import { hasTimescale, parseSchemaScript, selectList, tablePrefixes } from './toc.js';

export interface RecoveryContext {
  engine: Engine;
  /** The instance the fault struck. */
  instance: Instance;
  /** The hot standby, when the drill keeps one (backup method standby). */
  standby?: Instance;
  drill: DrillSpec;
  /** Every backup taken, oldest first: recovery uses the newest that passes its checks. */
  backups: BackupArtifact[];
  fault: FaultResult;
  /** Where a new instance's server log is kept. */
  logDir: string;
  /** The environment a team's restore script gets (the connection, the run). */
  scriptEnv: Record<string, string>;
  /** Called with every instance the procedure starts, at once, so it is torn down even if recovery fails later. */
  track: (instance: Instance) => void;
  /** Called with each check the procedure makes on its way (the archive's continuity). */
  report: (check: CheckResult) => void;
}

export interface RecoveryResult {
  /** The instance that holds the recovered data: the struck one, or a new one. */
  instance: Instance;
  summary: string;
  detail: Record<string, unknown>;
}

const RESTORE_TIMEOUT_MS = 6 * 3_600_000;

async function archiveList(instance: Instance, dump: string): Promise<string> {
  return (await instance.runTool('pg_restore', ['--list', dump])).stdout;
}

async function restoreTable(instance: Instance, backup: BackupArtifact, database: string, table: string, tableOnly: boolean): Promise<Omit<RecoveryResult, 'instance'>> {
  const list = await archiveList(instance, backup.path);
  if (hasTimescale(list)) {
    throw new UnsupportedError(
      `restore-table from a pg_dump archive of a TimescaleDB database is not supported: a hypertable's rows live in ` +
        `chunk tables that pg_restore --table does not select. Use restore-database into a scratch database instead.`,
    );
  }
  if (tableOnly) {
    await instance.runTool('pg_restore', ['--clean', '--if-exists', `--table=${table}`, `--dbname=${database}`, backup.path], {
      timeoutMs: RESTORE_TIMEOUT_MS,
    });
    return { summary: `pg_restore --table=${table} --clean into ${database} (table and rows only)`, detail: { table, tableOnly } };
  }
  const script = (await instance.runTool('pg_restore', ['--schema-only', '--file=-', backup.path])).stdout;
  const { list: selection, selected } = selectList(list, tablePrefixes(parseSchemaScript(script), 'public', table));
  const listFile = `${backup.path}.${table}.list`;
  await writeFile(listFile, selection);
  await instance.runTool(
    'pg_restore',
    ['--clean', '--if-exists', '--exit-on-error', `--use-list=${listFile}`, `--dbname=${database}`, backup.path],
    { timeoutMs: RESTORE_TIMEOUT_MS },
  );
  return { summary: `pg_restore --clean of ${table} with ${selected.length} archive entries into ${database}`, detail: { table, entries: selected } };
}

async function restoreDatabase(instance: Instance, backup: BackupArtifact, database: string, jobs: number): Promise<Omit<RecoveryResult, 'instance'>> {
  const plain = backup.format === 'plain.gz';
  const timescale = !plain && hasTimescale(await archiveList(instance, backup.path));
  const admin = await instance.connect('postgres');
  try {
    await admin.query(`drop database if exists ${quoteIdent(database)} with (force)`);
    await admin.query(`create database ${quoteIdent(database)}`);
  } finally {
    await admin.end();
  }
  if (timescale) {
    const client = await instance.connect(database);
    try {
      await client.query('create extension if not exists timescaledb');
      await client.query('select timescaledb_pre_restore()');
    } finally {
      await client.end();
    }
  }
  if (plain) {
    // The runbooks' way: gunzip -c backup.sql.gz | psql, stopping at the first error.
    await instance.exec('bash', ['-c', 'set -o pipefail; gunzip -c "$1" | psql -X --quiet -v ON_ERROR_STOP=1 --dbname="$2"', 'bash', backup.path, database], {
      timeoutMs: RESTORE_TIMEOUT_MS,
    });
  } else {
    await instance.runTool('pg_restore', [`--jobs=${jobs}`, '--exit-on-error', `--dbname=${database}`, backup.path], {
      timeoutMs: RESTORE_TIMEOUT_MS,
    });
  }
  const client = await instance.connect(database);
  try {
    if (timescale) await client.query('select timescaledb_post_restore()');
    await client.query('analyze');
  } finally {
    await client.end();
  }
  return {
    summary: plain
      ? `new database ${database}, gunzip -c | psql`
      : `new database ${database}, pg_restore -j ${jobs}${timescale ? ' inside timescaledb_pre_restore()/post_restore()' : ''}`,
    detail: { jobs, timescale },
  };
}

type RecoveryTargetKind = (DrillSpec['recovery'] & { procedure: 'point-in-time' })['target'];

/** postgresql.conf lines that stop replay at the target and promote. */
function targetSettings(target: RecoveryTargetKind, marker: RecoveryTarget | undefined): Record<string, string> {
  if (target === 'end' || !marker) return {};
  switch (target) {
    case 'time':
      return { recovery_target_time: `'${marker.time}'` };
    case 'lsn':
      return { recovery_target_lsn: `'${marker.lsn}'` };
    case 'xid':
      // Stop just before the bad transaction commits.
      return { recovery_target_xid: `'${marker.xid}'`, recovery_target_inclusive: 'off' };
    case 'name':
      return { recovery_target_name: `'${marker.name}'` };
  }
}

/** Where replay stopped: the switch point the promotion wrote into the new timeline's history file. */
async function replayStop(dataDir: string): Promise<{ timeline: number; stoppedAt: string; reason: string } | undefined> {
  const histories = (await readdir(join(dataDir, 'pg_wal'))).filter((f) => /^[0-9A-F]{8}\.history$/.test(f)).sort();
  const newest = histories.at(-1);
  if (!newest) return undefined;
  const last = (await readFile(join(dataDir, 'pg_wal', newest), 'utf8')).trim().split('\n').at(-1)!;
  const [parent, lsn, ...reason] = last.split('\t');
  return { timeline: parseInt(newest.slice(0, 8), 16), stoppedAt: lsn!, reason: `${reason.join(' ')} (switched from timeline ${parent})` };
}

/**
 * Before replay: is every segment from the backup's end to the newest one
 * archived there? A gap is where replay will stop, whatever the target.
 */
async function archiveContinuity(instance: Instance, backup: BackupArtifact): Promise<CheckResult> {
  const from = backup.detail.endSegment as string;
  const gaps = archiveGaps(await archivedSegments(instance.archiveDir), from, backup.detail.walSegmentBytes as number);
  return {
    name: 'wal-archive',
    verdict: gaps.missing.length ? 'fail' : 'pass',
    summary: gaps.missing.length
      ? `archive has a gap: ${gaps.missing.join(', ')} missing after the base backup (ended in ${from}); replay cannot pass it`
      : `archive continuous from ${from} to ${gaps.last ?? from} (${gaps.checked} segments after the base backup)`,
    evidence: { backupEndSegment: from, lastArchived: gaps.last, missing: gaps.missing },
  };
}

async function pointInTime(ctx: RecoveryContext, recovery: DrillSpec['recovery'] & { procedure: 'point-in-time' }, backup: BackupArtifact): Promise<RecoveryResult> {
  const { engine, instance, drill } = ctx;
  const marker = ctx.fault.target;
  if (recovery.target !== 'end' && !marker) {
    throw new Error(`recovery target ${recovery.target} needs the moment of a bad write, and the fault recorded none`);
  }
  const viaPgbackrest = backup.method === 'pgbackrest';
  let targetLines: Record<string, string> = {};
  let restoreArgs: string[] = [];
  let continuity: CheckResult | undefined;
  if (!viaPgbackrest) {
    continuity = await archiveContinuity(instance, backup);
    ctx.report(continuity);
    targetLines = targetSettings(recovery.target, marker);
  }
  const restored = await engine.startInstance(`${drill.name}-restored`, ctx.logDir, {
    prepareData: async (dataDir) => {
      if (viaPgbackrest) {
        // pgBackRest writes recovery.signal and its own restore_command (archive-get).
        restoreArgs = await pgbackrestRestore(instance, dataDir, recovery.target, marker);
        return;
      }
      await unpackBaseBackup(instance, backup.path, dataDir);
      await instance.runHost('touch', [join(dataDir, 'recovery.signal')]);
    },
    // The new server fetches WAL from the struck instance's archive.
    mounts: [instance.archiveDir],
    settings: viaPgbackrest
      ? {}
      : { restore_command: `'cp ${instance.archiveDir}/%f %p'`, recovery_target_action: "'promote'", ...targetLines },
  });
  ctx.track(restored);
  await restored.waitPromoted(Math.max(drill.targets.rto, 600_000));
  const stop = restored.dataDir ? await replayStop(restored.dataDir) : undefined;
  const client = await restored.connect('postgres');
  const end = (await client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn;
  await client.end();
  return {
    instance: restored,
    summary:
      (viaPgbackrest ? `pgbackrest restore ${restoreArgs.join(' ')} into a new data folder, ` : `base backup ${backup.path} into a new data folder, `) +
      'archived WAL replayed ' +
      (recovery.target === 'end' || !marker ? 'to the end of the archive' : `to ${recovery.target} ${marker[recovery.target]}`) +
      `, promoted${stop ? `: replay stopped at ${stop.stoppedAt} (${stop.reason})` : ''}`,
    detail: {
      target: recovery.target,
      targetSettings: viaPgbackrest ? { pgbackrest: restoreArgs.join(' ') || '(end of archive)' } : targetLines,
      ...(continuity ? { archiveGaps: continuity.evidence.missing } : {}),
      replayStoppedAt: stop?.stoppedAt,
      timeline: stop?.timeline,
      stopReason: stop?.reason,
      walAfterPromotion: end,
    },
  };
}

/** What a failed check said, in one line: the tool's last word, not the command line. */
function complaint(detail: string): string {
  return detail.split('\n').filter((line) => line.trim()).at(-1) ?? detail;
}

/**
 * "If corrupted, use the previous backup": the newest backup that passes its
 * integrity checks, newest first. The check names what caught each damaged one.
 * With verify: false the newest is used unchecked, to show what that costs.
 */
async function chooseBackup(ctx: RecoveryContext, verify: boolean): Promise<BackupArtifact> {
  const newestFirst = [...ctx.backups].reverse();
  if (!verify) {
    ctx.report({
      name: 'backup-integrity',
      verdict: 'unknown',
      summary: `not checked (recovery.verify: false): the newest backup ${newestFirst[0]!.path} was restored as it is`,
      evidence: { used: newestFirst[0]!.path },
    });
    return newestFirst[0]!;
  }
  const reports: IntegrityReport[] = [];
  for (const backup of newestFirst) {
    const report = await verifyArtifact(ctx.instance, backup);
    reports.push(report);
    if (!report.ok) continue;
    const rejected = reports.filter((r) => !r.ok);
    ctx.report({
      name: 'backup-integrity',
      verdict: 'pass',
      summary: rejected.length
        ? `${rejected.map((r) => `${r.path} is damaged, caught by ${r.caughtBy} (${complaint(r.steps.at(-1)!.detail)})`).join('; ')}; restored from the previous good backup ${backup.path}`
        : `${backup.path} passed ${report.steps.map((s) => s.check).join(', ')}`,
      evidence: { used: backup.path, reports },
    });
    return backup;
  }
  ctx.report({
    name: 'backup-integrity',
    verdict: 'fail',
    summary: `no backup passed its checks: ${reports.map((r) => `${r.path} caught by ${r.caughtBy} (${complaint(r.steps.at(-1)!.detail)})`).join('; ')}`,
    evidence: { reports },
  });
  throw new BackupIntegrityError(`no usable backup: every one of the ${reports.length} backups failed its integrity checks`);
}

/** The table a drill's fault damaged, which restore-table brings back when the drill names none. */
function damagedTable(drill: DrillSpec): string {
  return drill.fault.type === 'drop-table' || drill.fault.type === 'corrupt-page' ? drill.fault.table : '';
}

export async function recover(ctx: RecoveryContext): Promise<RecoveryResult> {
  const { instance, drill } = ctx;
  const recovery = drill.recovery;
  switch (recovery.procedure) {
    case 'none':
      return { instance, summary: 'no recovery (the drill shows the damage as it stands)', detail: {} };
    case 'failover': {
      if (!ctx.standby) throw new Error('failover needs the hot standby the drill starts with backup method standby');
      await promote(ctx.standby);
      return { instance: ctx.standby, summary: `standby ${ctx.standby.name} promoted with pg_promote()`, detail: { promoted: ctx.standby.name } };
    }
    case 'restart':
      await instance.start();
      return { instance, summary: 'server started again on its own data: crash recovery', detail: {} };
    case 'free-space': {
      // The runbook: find what filled the disk, remove it, then bring the server back.
      const filler = String(ctx.fault.detail.filler ?? '');
      if (filler) await instance.exec('rm', ['-f', filler]);
      const wasRunning = await instance.running();
      if (!wasRunning) await instance.start();
      await instance.waitPromoted(120_000);
      return { instance, summary: `removed ${filler || 'nothing'}${wasRunning ? '' : ', started the server again (crash recovery)'}`, detail: { filler, restarted: !wasRunning } };
    }
    case 'point-in-time':
      return pointInTime(ctx, recovery, await chooseBackup(ctx, recovery.verify));
    case 'script': {
      const backup = await chooseBackup(ctx, true);
      const result = await runScript(instance, {
        script: recovery.script,
        args: recovery.args,
        timeoutMs: recovery.timeout,
        env: { ...ctx.scriptEnv, BACKUP_FILE: backup.path, BACKUP_DIR: dirname(backup.path) },
      });
      return { instance, summary: `${recovery.script} restored ${backup.path}`, detail: { script: recovery.script, backup: backup.path, output: tail(result.stdout, 10).trim() } };
    }
    case 'restore-table':
    case 'restore-database': {
      const backup = await chooseBackup(ctx, recovery.verify);
      const database = recovery.database ?? drill.database;
      const result =
        recovery.procedure === 'restore-table'
          ? await restoreTable(instance, backup, database, recovery.table ?? damagedTable(drill), recovery.tableOnly)
          : await restoreDatabase(instance, backup, database, recovery.jobs);
      return { instance, ...result, detail: { ...result.detail, database, backup: backup.path } };
    }
  }
}
