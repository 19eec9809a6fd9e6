/**
 * Faults that damage the live instance while the workload writes, as they
 * would in production: a dropped table, a lost database, a killed server, a
 * bad write (with the moment recorded as time, LSN, xid and a named restore
 * point), a lost instance (its data folder gone), and a WAL segment missing
 * from the archive. Each returns what it did and when, for the journal.
 */
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { now, sleep, type Instant } from '../clock.js';
import type { BackupArtifact } from '../backup/artifact.js';
import { archivedSegments, switchAndWaitArchived } from '../backup/wal.js';
import { quoteIdent, type DatabaseState } from '../checks/state.js';
import type { Instance } from '../engines/instance.js';
import type { FaultSpec } from '../drill/spec.js';
import { UnsupportedError } from '../errors.js';
import type { LedgerWorkload } from '../workload/ledger.js';
import { corruptFile, dataFileOf } from './corrupt-backup.js';
import { corruptPage } from './corrupt-page.js';
import { backupIntoFullDisk, fillDataFolder } from './disk-full.js';
import { replaceWithWrong, type WrongKind } from './wrong-backup.js';
import type { CheckResult } from '../drill/journal.js';
import { sha256File, writeFolderSums, writeSidecar } from '../backup/checksum.js';

/** Where a point-in-time recovery can stop: just before the bad write. */
export interface RecoveryTarget {
  time: string;
  lsn: string;
  xid: string;
  name: string;
}

export interface FaultContext {
  instance: Instance;
  database: string;
  fault: FaultSpec;
  workload: LedgerWorkload;
  /** Every backup taken, oldest first. */
  backups: BackupArtifact[];
  /** The dataset's seed: random choices (an offset to corrupt) repeat with it. */
  seed: number;
  /** The dataset's state now, to compare a recovery against. */
  capture: () => Promise<DatabaseState>;
  /** Called with checks the fault makes (which detectors caught a corrupt page). */
  report: (check: CheckResult) => void;
}

export interface FaultResult {
  summary: string;
  /** The moment of the damage: RTO counts from here. */
  at: Instant;
  detail: Record<string, unknown>;
  /** The state a correct recovery brings back, when it is not the state at the backup. */
  expected?: DatabaseState;
  /** The recovery target, and the first ledger row written after it. */
  target?: RecoveryTarget & { firstSeqAfter: number };
  /** Undoes what the fault did outside the instance (a backup, the archive), so nothing stays broken. */
  heal?: () => Promise<void>;
}

const DEFAULT_BAD_WRITE = 'update trades set price = price * 100 where symbol_id % 3 = 0';

async function withClient<T>(instance: Instance, database: string, work: (client: Awaited<ReturnType<Instance['connect']>>) => Promise<T>): Promise<T> {
  const client = await instance.connect(database);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function dropTable({ instance, database }: FaultContext, table: string): Promise<FaultResult> {
  return withClient(instance, database, async (client) => {
    const notices: string[] = [];
    client.on('notice', (notice) => notices.push([notice.message, notice.detail].filter(Boolean).join(': ')));
    // CASCADE, as an operator's mistake would: dependent foreign keys go with it.
    await client.query(`drop table ${quoteIdent(table)} cascade`);
    return { summary: `DROP TABLE ${table} CASCADE on ${database}`, at: now(), detail: { table, database, cascaded: notices } };
  });
}

async function dropDatabase({ instance, database }: FaultContext): Promise<FaultResult> {
  await withClient(instance, 'postgres', (client) => client.query(`drop database ${quoteIdent(database)} with (force)`));
  return { summary: `DROP DATABASE ${database} WITH (FORCE)`, at: now(), detail: { database } };
}

async function killServer({ instance }: FaultContext): Promise<FaultResult> {
  await instance.kill();
  return { summary: `SIGKILL of the postmaster (${instance.kind}) while the workload writes`, at: now(), detail: {} };
}

/**
 * The erroneous UPDATE or DELETE. The workload is held for a moment so the
 * target falls between two known commits: every ledger row before it must come
 * back, every row after it must not.
 */
async function badWrite(ctx: FaultContext, sql: string): Promise<FaultResult> {
  const { instance, database, workload } = ctx;
  const firstSeqAfter = await workload.pause();
  try {
    const expected = await ctx.capture();
    return await withClient(instance, database, async (client) => {
      const name = `before_bad_write_${Date.now()}`;
      const marker = await client.query<{ lsn: string; time: string }>(
        'select pg_create_restore_point($1)::text as lsn, clock_timestamp()::text as time',
        [name],
      );
      await client.query('begin');
      const xid = (await client.query<{ xid: string }>('select txid_current()::text as xid')).rows[0]!.xid;
      const damage = await client.query(sql);
      await client.query('commit');
      const at = now();
      const target = { ...marker.rows[0]!, xid, name, firstSeqAfter };
      return {
        summary: `bad write: ${sql} (${damage.rowCount ?? 0} rows), committed as xid ${xid} after restore point ${name} at ${target.lsn}`,
        at,
        detail: { sql, rowsAffected: damage.rowCount ?? 0, target },
        expected,
        target,
      };
    });
  } finally {
    workload.resume();
  }
}

/** The machine is gone: the server dies mid-write and its data folder with it. Backups and the WAL archive remain. */
async function loseInstance({ instance }: FaultContext): Promise<FaultResult> {
  await instance.lose();
  return { summary: `instance lost: the ${instance.kind} server killed mid-write and its data folder gone`, at: now(), detail: { instance: instance.name } };
}

/**
 * A segment written after the base backup disappears from the archive (moved
 * aside, so it can be put back), the workload writes on, then the instance is
 * lost: recovery from the archive can only replay up to the gap.
 */
async function missingWal(ctx: FaultContext, afterGapMs: number): Promise<FaultResult> {
  const { instance, database } = ctx;
  const backup = ctx.backups.at(-1)!;
  const endLsn = backup.detail.endLsn as string | undefined;
  if (!endLsn) throw new UnsupportedError(`fault missing-wal needs a physical backup with a WAL range (backup method ${backup.method})`);
  const { backupEnd, closed } = await withClient(instance, database, async (client) => ({
    backupEnd: (await client.query<{ seg: string }>('select pg_walfile_name($1::pg_lsn) as seg', [endLsn])).rows[0]!.seg,
    closed: await switchAndWaitArchived(client),
  }));
  const after = (await archivedSegments(instance.archiveDir)).filter((segment) => segment > backupEnd);
  const victim = after[0];
  if (!victim) throw new Error(`no WAL segment was archived after the base backup (ended in ${backupEnd}); nothing to remove`);
  const aside = `${instance.archiveDir}.removed`;
  await mkdir(aside, { recursive: true });
  await rename(join(instance.archiveDir, victim), join(aside, victim));
  const removedAt = now();
  await sleep(afterGapMs);
  const lost = await loseInstance(ctx);
  return {
    summary: `WAL segment ${victim} removed from the archive; ${Math.round(afterGapMs / 1000)}s later the instance was lost`,
    at: lost.at,
    heal: () => rename(join(aside, victim), join(instance.archiveDir, victim)),
    detail: { missingSegment: victim, movedTo: aside, backupEndSegment: backupEnd, lastClosedSegment: closed, archivedAfterBackup: after.length, removedAt: removedAt.wall, ...lost.detail },
  };
}

/** The newest backup is damaged, then the incident that needs it strikes. */
async function corruptBackup(ctx: FaultContext, fault: Extract<FaultSpec, { type: 'corrupt-backup' }>): Promise<FaultResult> {
  const newest = ctx.backups.at(-1)!;
  const damage = await corruptFile(dataFileOf(newest), fault.mode, fault.offset, fault.bytes, ctx.seed);
  if (fault.checksum === 'recomputed') {
    if (newest.method === 'pg_basebackup') await writeFolderSums(newest.path);
    else await writeSidecar(newest.path, await sha256File(newest.path));
  }
  const incident = fault.then === 'lose-instance' ? await loseInstance(ctx) : await dropDatabase(ctx);
  const what = damage.mode === 'flip' ? `${damage.bytes} bytes flipped at offset ${damage.offset}` : `cut from ${damage.sizeBefore} to ${damage.offset} bytes`;
  return {
    summary: `newest backup damaged (${damage.file}: ${what}${fault.checksum === 'recomputed' ? ', checksum written after the damage' : ''}), then ${incident.summary}`,
    at: incident.at,
    detail: {
      corrupted: { file: damage.file, mode: damage.mode, offset: damage.offset, bytes: damage.bytes, sizeBefore: damage.sizeBefore, checksum: fault.checksum },
      ...incident.detail,
    },
    heal: damage.heal,
  };
}

async function corruptPageFault(ctx: FaultContext, table: string): Promise<FaultResult> {
  const damage = await corruptPage(ctx.instance, ctx.database, table);
  ctx.report(damage.detections);
  return { summary: `block ${damage.block} of ${table} corrupted on disk (${damage.file})`, at: now(), detail: { table, file: damage.file, block: damage.block } };
}

async function wrongBackup(ctx: FaultContext, kind: WrongKind): Promise<FaultResult> {
  const swap = await replaceWithWrong(ctx.instance, ctx.database, ctx.backups.at(-1)!, kind, ctx.seed);
  const incident = await dropDatabase(ctx);
  return { summary: `the newest backup is a valid dump of the wrong data (${kind}), then ${incident.summary}`, at: incident.at, detail: { wrong: swap.detail, ...incident.detail }, heal: swap.heal };
}

/** Tonight's backup fails on a full destination and is left half-written among the backups; then the database is lost. */
async function backupDiskFull(ctx: FaultContext): Promise<FaultResult> {
  const tonight = await backupIntoFullDisk(ctx.instance, ctx.database, ctx.backups.at(-1)!);
  ctx.backups.push(tonight.partial);
  const incident = await dropDatabase(ctx);
  return {
    summary: `tonight's backup ran out of space (${tonight.partial.sizeBytes} bytes written): ${tonight.error.split('\n')[0]}; then ${incident.summary}`,
    at: incident.at,
    detail: { partial: tonight.partial.path, partialBytes: tonight.partial.sizeBytes, error: tonight.error, ...incident.detail },
    heal: tonight.heal,
  };
}

async function dataDiskFull(ctx: FaultContext): Promise<FaultResult> {
  const full = await fillDataFolder(ctx.instance, ctx.workload);
  return {
    summary: `the data folder's filesystem filled up while the workload wrote${full.workloadError ? `: ${full.workloadError}` : ''}`,
    at: now(),
    detail: { filler: full.filler, serverSaid: full.serverSaid, workloadError: full.workloadError },
    // Whatever the recovery did, the filler goes (where the server's side can still be reached).
    heal: async () => {
      if (await ctx.instance.canExec()) await ctx.instance.exec('rm', ['-f', full.filler]);
    },
  };
}

export function injectFault(ctx: FaultContext): Promise<FaultResult> {
  const fault = ctx.fault;
  switch (fault.type) {
    case 'drop-table':
      return dropTable(ctx, fault.table);
    case 'drop-database':
      return dropDatabase(ctx);
    case 'kill-server':
      return killServer(ctx);
    case 'bad-write':
      return badWrite(ctx, fault.sql ?? DEFAULT_BAD_WRITE);
    case 'lose-instance':
      return loseInstance(ctx);
    case 'missing-wal':
      return missingWal(ctx, fault.writeAfterGap);
    case 'corrupt-backup':
      return corruptBackup(ctx, fault);
    case 'corrupt-page':
      return corruptPageFault(ctx, fault.table);
    case 'wrong-backup':
      return wrongBackup(ctx, fault.kind);
    case 'backup-disk-full':
      return backupDiskFull(ctx);
    case 'data-disk-full':
      return dataDiskFull(ctx);
  }
}
