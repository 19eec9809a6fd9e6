/**
 * The journal is the product; reports are views of it. Everything a run did
 * lands here: phases with their commands, the backup, the fault, the
 * recovery, the checks and the measurements. It is written to disk as the
 * run goes (journal.json) and read by auditors and CI tools, so its format is
 * versioned (schemaVersion) and published as JSON Schema
 * (schemas/journal.schema.json, generated from these definitions).
 *
 * The shared parts are defined here. What a fault, a recovery procedure or a
 * backup method records is typed by its own module, which adds its entry to
 * FaultDetails, RecoveryDetails or BackupDetails (model/artifact.ts).
 */
import { z } from 'zod';
import type { BackupArtifact } from './artifact.js';
import type { PartRecord } from './parts.js';
import type { CheckResult } from './verdict.js';

/** Bumped whenever a field changes meaning or goes away; new optional fields keep it. */
export const JOURNAL_SCHEMA_VERSION = 2;

export const RUN_STATUSES = ['running', 'completed', 'failed', 'aborted', 'interrupted', 'unsupported'] as const;
/** What happened to a run or drill, apart from whether its checks passed. */
export type RunStatus = (typeof RUN_STATUSES)[number];

const commandRecordSchema = z.strictObject({
  command: z.string().describe('The command line, shell-escaped, secrets redacted.'),
  startedAt: z.string(),
  durationMs: z.number(),
  exitCode: z.number().nullable(),
  signal: z.string().optional(),
  timedOut: z.boolean(),
  stderrTail: z.string(),
  tool: z.string().optional().describe('For PostgreSQL tools: which binary and version ran.'),
});
export type CommandRecord = z.output<typeof commandRecordSchema>;

/** The phases of a drill, in the order they run. */

const PHASES = ['setup', 'seed', 'workload', 'baseline', 'backup', 'writes-after-backup', 'fault', 'set-aside', 'recovery', 'verify', 'rollback', 'parts', 'teardown'] as const;
export type PhaseName = (typeof PHASES)[number];

export const phaseSchema = z.strictObject({
  name: z.enum(PHASES),
  status: z.enum(['running', 'ok', 'failed']),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  error: z.string().optional(),
  detail: z.record(z.string(), z.unknown()).optional().describe('What the phase found or made that the drill\'s own sections do not say, for a person reading the journal.'),
  commands: z.array(commandRecordSchema),
});
export type PhaseJournal = z.output<typeof phaseSchema>;

export const measurementSchema = z.strictObject({ targetMs: z.number(), measuredMs: z.number().optional() });
export type Measurement = z.output<typeof measurementSchema>;

export const rpoMeasurementSchema = measurementSchema.extend({
  lostRows: z.number().optional().describe('Ledger rows committed before the fault and missing after recovery.'),
  committedRows: z.number().optional(),
  recoveredRows: z.number().optional(),
  unexpectedRows: z.number().optional().describe('Rows present that the workload never saw acknowledged.'),
  afterTargetRows: z.number().optional().describe('With a recovery target: rows written after it, and how many of them wrongly came back.'),
  pastTargetRows: z.number().optional(),
  total: z.boolean().optional().describe('Nothing this drill wrote came back: the loss is total, its window unbounded (reaching back before the drill).'),
  foreignRows: z.number().optional().describe('Ledger rows of another run or drill that came back: what was restored is not this drill\'s data.'),
  tables: z
    .record(z.string(), z.strictObject({ written: z.number(), lost: z.number() }))
    .optional()
    .describe('The business rows the workload wrote per table (orders, trades), and how many of them are gone.'),
});
export type RpoMeasurement = z.output<typeof rpoMeasurementSchema>;

/** Where the drill ran: the engine, then (once an instance answered) the server and the tools. */
export const engineRecordSchema = z.strictObject({
  kind: z.enum(['native', 'docker']),
  binaries: z.string().optional().describe('native: the server binaries and how they were found.'),
  binariesFoundBy: z.string().optional(),
  version: z.string().optional(),
  image: z.string().optional().describe('docker: the image, where the client tools run, the Docker engine, the host binaries when used.'),
  toolSource: z.enum(['container', 'host']).optional(),
  network: z.enum(['host', 'bridge']).optional().describe('docker: the network the servers joined, and how it was chosen (engine.network, or what auto saw).'),
  networkChosenBy: z.string().optional(),
  docker: z.string().optional(),
  hostBinaries: z.string().optional(),
  server: z.string().optional().describe('The running server\'s version, major, TimescaleDB version (null without it), and each client tool\'s version.'),
  major: z.number().optional(),
  timescaledb: z.string().nullable().optional(),
  tools: z.record(z.string(), z.string()).optional(),
});
export type EngineRecord = z.output<typeof engineRecordSchema>;

export const datasetRecordSchema = z.strictObject({
  scale: z.string(),
  seed: z.number(),
  rows: z.record(z.string(), z.number()),
  layout: z.string(),
  /** The timescaledb extension version the seeded database runs, when it has it. */
  timescaledb: z.string().optional(),
  sizeBytes: z.number().optional().describe('pg_database_size of the drill\'s database at the backup: the size RTO is fitted against.'),
  cache: z
    .strictObject({ key: z.string(), builtAt: z.string(), builtNow: z.boolean() })
    .optional()
    .describe('The drill started from a copy of a cached seeded cluster: its key, when it was built, and whether this drill built it.'),
});
type DatasetRecord = z.output<typeof datasetRecordSchema>;

export const projectionSchema = z.strictObject({
  method: z.string(),
  points: z.array(z.strictObject({ drill: z.string(), sizeBytes: z.number(), rtoMs: z.number() })),
  fit: z.strictObject({ slope: z.number(), intercept: z.number(), r2: z.number().optional(), residualMs: z.number().optional() }).optional(),
  productionSizeBytes: z.number().optional(),
  projectedMs: z.number().optional(),
  halfWidthMs: z.number().optional(),
});

const workloadSummarySchema = z.strictObject({
  ratePerSecond: z.number().describe('The commits per second asked for.'),
  writers: z.number().describe('Connections writing, each with its share of the rate.'),
  achievedPerSecond: z.number().describe('Commits acknowledged per second, start to stop.'),
  behind: z.string().optional().describe('Set when the achieved rate fell below 90% of the asked one: the drill ran under less load than its file says.'),
  committed: z.number(),
  firstSeq: z.number().optional(),
  lastSeq: z.number().optional(),
  inFlightSeqs: z.array(z.number()).describe('Writes sent but never acknowledged: each may or may not be committed.'),
  errors: z.array(z.string()),
});
export type WorkloadSummary = z.output<typeof workloadSummarySchema>;

/** What every fault records, beside its own facts. */
export const faultCommonSchema = z.strictObject({
  summary: z.string(),
  at: z.string().describe('The moment of the damage, ISO time: RTO counts from here.'),
  workload: workloadSummarySchema.optional().describe('What the workload wrote through the fault; absent for a backup made elsewhere, where nothing writes.'),
});

/** Each fault module adds `'<type>': { ...its facts }` here (module augmentation). */
export interface FaultDetails {}
export type FaultType = keyof FaultDetails & string;
export type FaultRecord = { [K in FaultType]: z.output<typeof faultCommonSchema> & { type: K } & FaultDetails[K] }[FaultType];

/** Each recovery procedure module adds `'<procedure>': { ...its facts }` here (module augmentation). */
export interface RecoveryDetails {}
export type ProcedureName = keyof RecoveryDetails & string;
/** A procedure that finished says what it did; one that failed says how. */
export type RecoveryRecord =
  | { [K in ProcedureName]: { procedure: K; summary: string } & RecoveryDetails[K] }[ProcedureName]
  | { procedure: ProcedureName; error: string };

export const backupListEntrySchema = z.strictObject({ path: z.string(), sizeBytes: z.number(), sha256: z.string() });

/** The drill file as it was read for this run, copied into the run folder so the evidence shows what was run. */
export const drillSourceSchema = z.strictObject({
  copy: z.string().describe('Where the copy is, relative to the run folder.'),
  sizeBytes: z.number(),
  sha256: z.string(),
});

export interface DrillJournal {
  name: string;
  file: string;
  /** The drill file's bytes as run: their copy in the run folder and SHA-256. */
  source?: z.output<typeof drillSourceSchema>;
  description?: string;
  status: RunStatus;
  verdict?: CheckResult['verdict'];
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  engine?: EngineRecord;
  dataset?: DatasetRecord;
  /** The newest backup taken (the one a recovery tries first). */
  backup?: BackupArtifact;
  /** Every generation taken, oldest first, when there were several. */
  backups?: Array<z.output<typeof backupListEntrySchema>>;
  fault?: FaultRecord;
  recovery?: RecoveryRecord;
  /** The rest of the system restored after the database (Redis, configuration, secrets), in order. */
  parts?: PartRecord[];
  phases: PhaseJournal[];
  checks: CheckResult[];
  /** The last drill of a file run at several sizes: RTO fitted against size, and projected where a production size was given. */
  projection?: z.output<typeof projectionSchema>;
  rto?: Measurement;
  rpo?: RpoMeasurement;
  error?: string;
  /** Things a person must know although no check failed, e.g. a tool of another major version than the server. */
  warnings?: string[];
  /** The stable code of the error that stopped the drill, when it had one (errors.ts). */
  errorCode?: string;
  /** ERROR/FATAL/PANIC lines the servers logged after recovery ended. */
  logErrors?: string[];
  /** Where the throwaway instance's files were kept, when they were. */
  keptFiles?: string[];
  /** The most drills that ran at once while this one did, when more than one (--jobs): its timings competed for the machine. */
  concurrency?: number;
}

export const hostSchema = z.strictObject({ hostname: z.string(), platform: z.string(), node: z.string(), pid: z.number() });

/** One earlier run of a drill, from the history file, for the report's trends. */
export const recentRunSchema = z.strictObject({
  runId: z.string(),
  startedAt: z.string(),
  verdict: z.string().optional(),
  rtoMs: z.number().optional(),
  rpoMs: z.number().optional(),
  lostRows: z.number().optional(),
});

export const runOptionsSchema = z.strictObject({
  keep: z.boolean(),
  binDir: z.string().nullable(),
  drills: z.array(z.string()),
  jobs: z.number().optional().describe('`--jobs N` when above 1: up to N drills ran at once.'),
});

/** `run --shard K/N`: which shard this run was, and which drills it owned of all the drill files named. */
export const shardSchema = z.strictObject({
  index: z.number().describe('K, from 1.'),
  count: z.number().describe('N: how many shards the drills were split into.'),
  owned: z.array(z.string()).describe('The drills this shard ran.'),
  all: z.array(z.string()).describe('Every drill of the split, in order: merge-reports checks each is run by exactly one shard.'),
});

/** `merge-reports`: the shards' run folders this run was merged from, each checked against its manifest first. */
export const mergedSchema = z.strictObject({
  shards: z.array(z.strictObject({ index: z.number(), runId: z.string(), folder: z.string(), manifestSha256: z.string(), signature: z.string() })),
});

export interface RunJournal {
  tool: 'restore-drill';
  schemaVersion: typeof JOURNAL_SCHEMA_VERSION;
  version: string;
  runId: string;
  status: RunStatus;
  /** The run's verdict once it ended: pass only when every drill passed (model/outcome.ts). */
  verdict?: CheckResult['verdict'];
  startedAt: string;
  endedAt?: string;
  host: z.output<typeof hostSchema>;
  options: z.output<typeof runOptionsSchema>;
  /** Why the run stopped before its drills, when it did. */
  error?: string;
  /** Each drill's recent runs, newest last (this one included), from the history file, written when the run's outputs are. */
  recentRuns?: Record<string, Array<z.output<typeof recentRunSchema>>>;
  shard?: z.output<typeof shardSchema>;
  merged?: z.output<typeof mergedSchema>;
  drills: DrillJournal[];
}

