/**
 * The drill file format: a drill is data (a YAML file under drills/). The
 * schema is assembled from the modules: each backup method, fault and
 * recovery procedure owns the options of its own section. It rejects unknown
 * keys everywhere and fills defaults, so the runner only ever sees a
 * complete, valid drill. The same schema is published as JSON Schema for
 * editors (schemas/drill.schema.json) and as the drill reference
 * (docs/drill-format.md).
 */
import { z } from 'zod';
import { BACKUP_METHODS, type BackupSpec } from '../backup/index.js';
import { CONTENT_CHECKS } from '../checks/content.js';
import { commandSchema, querySchema } from '../checks/team.js';
import { CANDLE_ROWS, SCALE_NAMES, type ScaleSetting } from '../dataset/scale.js';
import { ENGINE_KINDS, NETWORK_CHOICES } from '../engines/types.js';
import { FAULTS, type FaultSpec } from '../faults/index.js';
import { PARTS, type PartSpec } from '../parts/index.js';
import { PROCEDURES, type RecoverySpec } from '../recovery/index.js';
import { duration, identifier, oneOf, size, targetDuration } from '../support/fields.js';

/** A union of the modules' sections, told apart by `key`, with the list of kinds in the error for an unknown one. */
function unionOn<K extends string, T extends readonly z.ZodObject[]>(key: K, schemas: T, kinds: readonly string[]) {
  return z.discriminatedUnion(key, schemas as unknown as [T[number], ...T[number][]], {
    error: (issue) => (issue.code === 'invalid_union' ? `expected ${key}: ${kinds.join(', ')}` : undefined),
  });
}

/** A preset's name, or a whole number of candle rows. */
const candleRows = { error: (issue: { input?: unknown }) => `a scale in candle rows must be a whole number from ${CANDLE_ROWS.min} to ${CANDLE_ROWS.max}, got ${JSON.stringify(issue.input)}` };
const scaleSetting = z.union([oneOf(SCALE_NAMES), z.number().int(candleRows).min(CANDLE_ROWS.min, candleRows).max(CANDLE_ROWS.max, candleRows)]);

const backupSchema = unionOn(
  'method',
  BACKUP_METHODS.map((m) => m.schema),
  BACKUP_METHODS.map((m) => m.method),
);
const faultSchema = unionOn(
  'type',
  FAULTS.map((f) => f.schema),
  FAULTS.map((f) => f.type),
);
const partSchema = unionOn(
  'kind',
  PARTS.map((p) => p.schema),
  PARTS.map((p) => p.kind),
);
const recoverySchema = unionOn(
  'procedure',
  PROCEDURES.map((p) => p.schema),
  PROCEDURES.map((p) => p.procedure),
);

export const drillSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected lower-case letters, digits and dashes, e.g. table-drop, at most 63 characters (it names folders and the report\'s section)')
      .describe('The drill\'s name: unique among the drills of a run; it names its section of the report.'),
    description: z.string().optional().describe('One line for the report.'),
    cadence: targetDuration
      .optional()
      .describe('How often this drill must pass (the runbooks: weekly 7d, monthly 31d, quarterly 92d, yearly 366d): `status` calls it stale after this long without a pass (default: --max-age).'),
    database: identifier.default('market').describe('The database the drill seeds, strikes and recovers.'),
    engine: z
      .strictObject({
        kind: oneOf(ENGINE_KINDS).default('native'),
        binDir: z
          .string()
          .min(1)
          .optional()
          .describe('Native only: this drill\'s PostgreSQL bin folder (default: --pg-bin, $RESTORE_DRILL_PG_BIN, then pg_config and the usual folders).'),
        restoreBinDir: z
          .string()
          .min(1)
          .optional()
          .describe('Native only: restore into a new instance of these binaries (another PostgreSQL or TimescaleDB version) instead of the struck one.'),
        restoreImage: z.string().min(1).optional().describe('Docker only: restore into a new container of this image instead of the struck one.'),
        image: z.string().min(1).optional().describe('Docker only: the image (default: the pinned TimescaleDB image, or $RESTORE_DRILL_IMAGE).'),
        tools: oneOf(['container', 'host']).default('container').describe('Docker only: run pg_dump/pg_restore inside the container (the server\'s version) or from the host.'),
        network: oneOf(NETWORK_CHOICES)
          .default('auto')
          .describe(
            "Docker only: the network the servers' containers join. host: the host's, each server on 127.0.0.1 at a free port (a container starts in about half the time); bridge: Docker's default bridge, the port published; auto: host where the Docker engine runs on this machine (Linux, not rootless), bridge elsewhere.",
          ),
        dataVolume: size(64 * 1024 ** 2, '64m', 64 * 1024 ** 3, '64g', 'an empty cluster needs about 40 MB').optional().describe('A size-limited data folder (a tmpfs).'),
      })
      .prefault({})
      .describe('Where the throwaway instances run: native (local PostgreSQL binaries, the default) or docker (testcontainers).'),
    dataset: z
      .strictObject({
        scale: z
          .union([scaleSetting, z.array(scaleSetting).min(2).max(4)], {
            error: (issue) =>
              issue.code === 'invalid_union'
                ? `expected one of ${SCALE_NAMES.join(', ')} or a whole number of candle rows from ${CANDLE_ROWS.min} to ${CANDLE_ROWS.max}, or a list of 2 to 4 of them, got ${JSON.stringify(issue.input)}`
                : undefined,
          })
          .default('small')
          .describe(
            'A scale (a preset, or a number of candle rows with the other tables in proportion), or 2 to 4 of them: the drill then runs once at each (named <name>-<scale>), and the report fits its RTO against the database size and, with targets.productionSize, projects the RTO at that size.',
          ),
        seed: z.number().int().min(0).max(2 ** 31 - 1).default(1).describe('The same seed gives the same rows, and the same random choices of a fault.'),
      })
      .prefault({})
      .describe('The synthetic market data seeded before the backup: symbols, candles, orders, trades, positions.'),
    workload: z
      .strictObject({
        rate: z
          .number()
          .positive()
          .max(5000)
          .default(20)
          .describe(
            'Commits per second (each an order, its trade and a ledger row), shared by one writer connection per 150/s; the journal records the rate reached, and a drill whose server could not keep up says so.',
          ),
        lead: duration.prefault('1s').describe('How long the workload writes before the backup starts.'),
        afterBackup: duration.prefault('2s').describe('How long it keeps writing after the backup, before the fault.'),
        afterFault: duration.prefault('500ms').describe('How long it keeps writing after the fault (where it still can), before recovery starts.'),
      })
      .prefault({})
      .describe('The writer that keeps committing numbered ledger rows through the drill: the data loss (RPO) is counted on them.'),
    backup: backupSchema.describe('How the backup is taken: one section per method, below.'),
    fault: faultSchema.describe('What breaks, while the workload writes: one section per fault, below.'),
    recovery: recoverySchema.describe('How it is recovered, as the runbook says: one section per procedure, below.'),
    rollback: z
      .boolean()
      .default(false)
      .describe(
        "The spark-trading runbook's rollback: before the recovery, the struck instance is stopped and its data folder copied aside; if the recovery or its verification fails, the copy is put back and the server started, and the drill checks the instance equals its pre-restore state (the drill still fails: the recovery did).",
      ),
    parts: z
      .array(partSchema)
      .max(8)
      .default([])
      .superRefine((parts, ctx) => {
        const seen = new Set<string>();
        for (const [i, { name }] of (parts as unknown as PartSpec[]).entries()) {
          if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${name}" names two parts: give each its own name` });
          seen.add(name);
        }
      })
      .describe(
        "The rest of the system, restored after the database in this order (the runbook's complete system recovery): Redis, configuration files, encrypted secrets. Each is backed up, struck and recovered its runbook's way, with its own RTO and data loss; the drill also judges the whole against targets.system.",
      ),
    checks: z.array(oneOf(CONTENT_CHECKS)).min(1).default([...CONTENT_CHECKS]).describe('The content checks run after recovery (RTO and RPO are always measured).'),
    queries: z.array(querySchema).max(50).default([]).describe('The team\'s validation queries, each a check of its own after the built-in ones.'),
    commands: z.array(commandSchema).max(20).default([]).describe('The team\'s smoke tests, each a check of its own after the queries.'),
    targets: z
      .strictObject({
        rto: targetDuration,
        rpo: targetDuration,
        productionSize: size(1024 ** 2, '1m', 1024 ** 5, '1024t', 'the size of the production database the RTO is projected to')
          .optional()
          .describe('With several dataset scales: the production database\'s size (e.g. "800GB"); the RTO fitted over the scales is projected to it, against the rto target.'),
        system: z
          .strictObject({ rto: targetDuration, rpo: targetDuration })
          .optional()
          .describe("With parts: the whole system's targets (the runbook's complete recovery: RTO 4h, RPO 6h), from the fault to the last part verified, and the worst loss of any part (default: rto and rpo above)."),
      })
      .describe('The recovery time and data loss the drill must stay within.'),
  })
  .meta({ title: 'restore-drill drill file', description: 'One restore drill: a dataset, a backup, a fault, a recovery procedure, checks and RTO/RPO targets.' });

/** A drill file as written: its dataset may name several scales. */
export type DrillFileSpec = z.output<typeof drillSchema> & { backup: BackupSpec; fault: FaultSpec; recovery: RecoverySpec; parts: PartSpec[] };

/** One drill as it runs: one scale. */
export type DrillSpec = Omit<DrillFileSpec, 'dataset'> & { dataset: { scale: ScaleSetting; seed: number } };

/** The drills of one file run at several scales, whose RTO is fitted against size. */
export interface ProjectionGroup {
  /** The drill file's own name; each member is <name>-<scale>. */
  name: string;
  members: readonly string[];
  productionSizeBytes?: number;
}

export interface LoadedDrill {
  /** The drill file, as the user named it (relative to the working folder where it can be). */
  file: string;
  spec: DrillSpec;
  projection?: ProjectionGroup;
  /** The file's bytes as read: copied into the run folder and hashed, the evidence of what was run. */
  bytes: Buffer;
}
