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

const fault = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('drop-table'), table }),
    z.strictObject({ type: z.literal('drop-database') }),
    /** SIGKILL of the postmaster while the workload writes. */
    z.strictObject({ type: z.literal('kill-server') }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'expected type: drop-table, drop-database or kill-server' : undefined) },
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
    }),
    z.strictObject({
      procedure: z.literal('restore-database'),
      jobs: z.number().int().min(1).max(64).default(2),
      database: identifier.optional(),
    }),
    /** Start the server again on its own data: crash recovery replays the WAL. */
    z.strictObject({ procedure: z.literal('restart') }),
    z.strictObject({ procedure: z.literal('none') }),
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union' ? 'expected procedure: restore-table, restore-database, restart or none' : undefined,
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
      })
      .prefault({}),
    backup: z.strictObject({
      method: oneOf(['pg_dump']),
      format: oneOf(['custom']).default('custom'),
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
  const recovery = raw.recovery as { procedure?: unknown; table?: unknown } | undefined;
  const problems: Array<{ path: string; message: string }> = [];
  if (recovery?.procedure === 'restore-table' && recovery.table === undefined && fault?.type !== 'drop-table') {
    problems.push({
      path: 'recovery.table',
      message: 'required: restore-table needs the table to restore when the fault is not drop-table',
    });
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
