/**
 * The drill file format: a drill is data (a YAML file under drills/). The
 * schema rejects unknown keys everywhere and fills defaults, so the runner
 * only ever sees a complete, valid drill.
 */
import { z } from 'zod';
import { CONTENT_CHECKS } from '../checks/content.js';
import { DATASET_TABLES, LEDGER_TABLE } from '../dataset/schema.js';
import { SCALE_NAMES } from '../dataset/scale.js';
import { DURATION_HINT, parseDuration, parseSize, SIZE_HINT } from '../duration.js';

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT}, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return ms;
});

const size = z.string().transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined || bytes < 16 * 1024 ** 2) {
    ctx.addIssue({ code: 'custom', message: `expected ${SIZE_HINT}, at least 16m, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return bytes;
});

const TABLES = [...DATASET_TABLES, LEDGER_TABLE] as const;
const table = z.enum(TABLES, { error: (issue) => `expected one of ${TABLES.join(', ')}, got ${JSON.stringify(issue.input)}` });

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (issue) => `expected one of ${values.join(', ')}, got ${JSON.stringify(issue.input)}` });
}

const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier (letters, digits, _), at most 63 characters');

export const FAULT_TYPES = [
  'drop-table',
  'drop-database',
  'kill-server',
  'bad-write',
  'lose-instance',
  'missing-wal',
  'corrupt-backup',
  'corrupt-page',
  'wrong-backup',
  'backup-disk-full',
  'data-disk-full',
] as const;
export const RECOVERY_PROCEDURES = ['restore-table', 'restore-database', 'point-in-time', 'failover', 'restart', 'free-space', 'script', 'none'] as const;
export const RECOVERY_TARGETS = ['time', 'lsn', 'xid', 'name', 'end'] as const;
const LOGICAL: readonly string[] = ['pg_dump', 'script'];
const PHYSICAL: readonly string[] = ['pg_basebackup', 'pgbackrest'];

const fault = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('drop-table'), table }),
    z.strictObject({ type: z.literal('drop-database') }),
    /** SIGKILL of the postmaster while the workload writes. */
    z.strictObject({ type: z.literal('kill-server') }),
    /** An erroneous UPDATE or DELETE; its moment is recorded as time, LSN, xid and a named restore point. */
    z.strictObject({ type: z.literal('bad-write'), sql: z.string().min(1).optional() }),
    /** The server dies and its data folder is gone; backups and the WAL archive remain. */
    z.strictObject({ type: z.literal('lose-instance') }),
    /** A WAL segment written after the base backup vanishes from the archive; later the instance is lost. */
    z.strictObject({ type: z.literal('missing-wal'), writeAfterGap: duration.default(2000) }),
    /**
     * The newest backup is damaged after its checksum was written (bit flips at
     * an offset, or truncation), then the incident that needs it strikes.
     */
    z.strictObject({
      type: z.literal('corrupt-backup'),
      mode: oneOf(['flip', 'truncate']).default('flip'),
      /** A byte offset into the file, or random (drawn from the dataset seed, so repeatable). */
      offset: z.union([z.number().int().min(0), z.literal('random')]).default('random'),
      /** flip: how many bytes to flip; truncate: ignored (the file is cut at the offset). */
      bytes: z.number().int().min(1).max(4096).default(8),
      /**
       * kept: the damage came after the checksum was written (the sidecar catches it);
       * recomputed: before it (a truncated upload checksummed on arrival), so only the
       * format's own checks can: gzip -t, pg_restore, pg_verifybackup.
       */
      checksum: oneOf(['kept', 'recomputed']).default('kept'),
      then: oneOf(['drop-database', 'lose-instance']).default('drop-database'),
    }),
    /** Bytes of one data page of a live table flipped on disk (the cluster has data checksums). */
    z.strictObject({ type: z.literal('corrupt-page'), table }),
    /** The newest backup restores cleanly but holds the wrong data; then the database is lost. */
    z.strictObject({ type: z.literal('wrong-backup'), kind: oneOf(['empty', 'partial', 'other-database']).default('other-database') }),
    /** Tonight's backup runs into a full destination and is left half-written; then the database is lost. */
    z.strictObject({ type: z.literal('backup-disk-full') }),
    /** The data folder's filesystem (engine.dataVolume) fills up while the workload writes. */
    z.strictObject({ type: z.literal('data-disk-full') }),
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `expected type: ${FAULT_TYPES.join(', ')}`
        : undefined,
  },
);

const recovery = z.discriminatedUnion(
  'procedure',
  [
    z.strictObject({
      procedure: z.literal('restore-table'),
      /** Defaults to the table the fault dropped. */
      table: table.optional(),
      /** Restore only the table and its data, as `pg_restore --table` alone does: no indexes or constraints. */
      tableOnly: z.boolean().default(false),
      database: identifier.optional(),
      verify: z.boolean().default(true),
    }),
    z.strictObject({
      procedure: z.literal('restore-database'),
      jobs: z.number().int().min(1).max(64).default(2),
      database: identifier.optional(),
      /** false: restore the newest backup without checking it first, to show what detection prevents. */
      verify: z.boolean().default(true),
    }),
    /**
     * The base backup into a new data folder, then the archived WAL replayed to
     * the target: just before the bad write (time, lsn, xid, name) or to the end
     * of the archive (end).
     */
    z.strictObject({ procedure: z.literal('point-in-time'), target: oneOf(RECOVERY_TARGETS).default('end'), verify: z.boolean().default(true) }),
    /** Promote the hot standby (backup method standby) after the primary is gone. */
    z.strictObject({ procedure: z.literal('failover') }),
    /** Start the server again on its own data: crash recovery replays the WAL. */
    z.strictObject({ procedure: z.literal('restart') }),
    /** Remove what filled the disk, start the server if it stopped, wait until it serves. */
    z.strictObject({ procedure: z.literal('free-space') }),
    /** The team's restore script, given BACKUP_FILE: the newest backup that passed its checks. */
    z.strictObject({
      procedure: z.literal('script'),
      script: z.string().min(1),
      args: z.array(z.string()).default([]),
      timeout: duration.default(3_600_000),
    }),
    z.strictObject({ procedure: z.literal('none') }),
  ],
  {
    error: (issue) => (issue.code === 'invalid_union' ? `expected procedure: ${RECOVERY_PROCEDURES.join(', ')}` : undefined),
  },
);

export const drillSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected lower-case letters, digits and dashes, e.g. table-drop'),
    description: z.string().optional(),
    database: identifier.default('market'),
    engine: z
      .strictObject({
        kind: oneOf(['native', 'docker']).default('native'),
        /** Docker only: the image (default: the pinned TimescaleDB image, or $RESTORE_DRILL_IMAGE). */
        image: z.string().min(1).optional(),
        /** Docker only: run pg_dump/pg_restore inside the container (the server's version) or from the host. */
        tools: oneOf(['container', 'host']).default('container'),
        /** A size-limited (tmpfs) data folder. */
        dataVolume: size.optional(),
      })
      .prefault({}),
    dataset: z
      .strictObject({
        scale: oneOf(SCALE_NAMES).default('small'),
        seed: z.number().int().min(0).max(2 ** 31 - 1).default(1),
      })
      .prefault({}),
    workload: z
      .strictObject({
        /** Ledger rows per second. */
        rate: z.number().positive().max(1000).default(20),
        /** How long the workload writes before the backup starts. */
        lead: duration.default(1000),
        /** How long it keeps writing after the backup, before the fault. */
        afterBackup: duration.default(2000),
        /** How long it keeps writing after the fault (where it still can), before recovery starts. */
        afterFault: duration.default(500),
      })
      .prefault({}),
    backup: z.strictObject({
      /**
       * pg_dump (logical), pg_basebackup (physical + WAL archive), pgbackrest
       * (full + incremental, archive-push), standby (a hot standby streaming from the start).
       */
      method: oneOf(['pg_dump', 'pg_basebackup', 'pgbackrest', 'standby', 'script']),
      /** script: the team's backup script (relative to the drill file), its arguments and time limit. */
      script: z.string().min(1).optional(),
      args: z.array(z.string()).default([]),
      timeout: duration.default(600_000),
      /** pg_dump: custom archive, or gzip-compressed plain SQL. */
      format: oneOf(['custom', 'plain.gz']).default('custom'),
      /** Backups taken one after another (with writes between); recovery falls back to an older one if the newest fails its checks. */
      generations: z.number().int().min(1).max(5).default(1),
      /** Physical methods: archive_timeout, the bound on unarchived writes. */
      archiveTimeout: duration.default(1000),
    }),
    fault,
    recovery,
    checks: z.array(oneOf(CONTENT_CHECKS)).min(1).default([...CONTENT_CHECKS]),
    targets: z.strictObject({ rto: duration, rpo: duration }),
  });

/**
 * Rules across fields, checked on the raw file even when other fields are
 * invalid, so one validation run reports every problem.
 */
export function crossFieldProblems(raw: Record<string, unknown>): Array<{ path: string; message: string }> {
  const fault = raw.fault as { type?: unknown } | undefined;
  const recovery = raw.recovery as { procedure?: unknown; table?: unknown; target?: unknown } | undefined;
  const method = (raw.backup as { method?: unknown } | undefined)?.method;
  const problems: Array<{ path: string; message: string }> = [];
  if (recovery?.procedure === 'restore-table' && recovery.table === undefined && fault?.type !== 'drop-table' && fault?.type !== 'corrupt-page') {
    problems.push({
      path: 'recovery.table',
      message: 'required: restore-table needs the table to restore when the fault is not drop-table or corrupt-page',
    });
  }
  if ((fault?.type === 'wrong-backup' || fault?.type === 'backup-disk-full') && typeof method === 'string' && method !== 'pg_dump') {
    problems.push({ path: 'fault.type', message: `${String(fault.type)} replaces a pg_dump backup; backup.method is ${method}` });
  }
  const engine = raw.engine as { dataVolume?: unknown } | undefined;
  if (fault?.type === 'data-disk-full' && engine?.dataVolume === undefined) {
    problems.push({ path: 'engine.dataVolume', message: 'required: data-disk-full fills a size-limited data folder; set a size such as 64m' });
  }
  const logicalRecovery = recovery?.procedure === 'restore-table' || recovery?.procedure === 'restore-database';
  if (logicalRecovery && typeof method === 'string' && !LOGICAL.includes(method)) {
    problems.push({ path: 'recovery.procedure', message: `${String(recovery?.procedure)} restores a pg_dump archive; backup.method is ${method} (use point-in-time)` });
  }
  if (recovery?.procedure === 'point-in-time' && typeof method === 'string' && !PHYSICAL.includes(method)) {
    problems.push({ path: 'recovery.procedure', message: `point-in-time needs a physical backup (${PHYSICAL.join(', ')}); backup.method is ${method}` });
  }
  const target = recovery?.target ?? 'end';
  if (recovery?.procedure === 'point-in-time' && target !== 'end' && fault?.type !== 'bad-write') {
    problems.push({ path: 'recovery.target', message: `target ${String(target)} is the moment before a bad write: it needs fault type bad-write (or use target: end)` });
  }
  const format = (raw.backup as { format?: unknown } | undefined)?.format;
  const script = (raw.backup as { script?: unknown } | undefined)?.script;
  if (method === 'script' && script === undefined) {
    problems.push({ path: 'backup.script', message: 'required: the path of the team\'s backup script, relative to the drill file' });
  }
  if (method !== 'script' && script !== undefined) {
    problems.push({ path: 'backup.script', message: `only used with backup.method script (it is ${String(method)})` });
  }
  if (recovery?.procedure === 'script' && typeof method === 'string' && !LOGICAL.includes(method)) {
    problems.push({ path: 'recovery.procedure', message: `a restore script is given a dump to restore; backup.method ${method} makes none` });
  }
  if (format === 'plain.gz' && recovery?.procedure === 'restore-table') {
    problems.push({ path: 'recovery.procedure', message: 'restore-table selects from a custom-format archive; backup.format plain.gz restores whole (use restore-database)' });
  }
  if (fault?.type === 'corrupt-backup' && (method === 'pgbackrest' || method === 'standby')) {
    problems.push({ path: 'fault.type', message: `corrupt-backup damages a dump or a base backup; backup.method ${String(method)} is neither` });
  }
  if (fault?.type === 'missing-wal' && method === 'pgbackrest') {
    problems.push({ path: 'fault.type', message: 'missing-wal removes a segment from a plain WAL archive; with pgbackrest use backup.method pg_basebackup' });
  }
  if (recovery?.procedure === 'failover' && method !== 'standby') {
    problems.push({ path: 'recovery.procedure', message: `failover promotes a hot standby: set backup.method to standby (it is ${String(method)})` });
  }
  if (method === 'standby' && recovery?.procedure !== undefined && !['failover', 'none'].includes(String(recovery.procedure))) {
    problems.push({ path: 'recovery.procedure', message: `a standby is recovered by failover (or none); ${String(recovery.procedure)} needs a backup it does not make` });
  }
  if ((fault?.type === 'missing-wal' || fault?.type === 'lose-instance') && typeof method === 'string' && !PHYSICAL.includes(method)) {
    problems.push({ path: 'fault.type', message: `${String(fault.type)} is recovered from a base backup and the WAL archive: backup.method must be ${PHYSICAL.join(' or ')}` });
  }
  return problems;
}

export type DrillSpec = z.output<typeof drillSchema>;
export type FaultSpec = DrillSpec['fault'];
export type RecoverySpec = DrillSpec['recovery'];

export interface LoadedDrill {
  file: string;
  spec: DrillSpec;
}
