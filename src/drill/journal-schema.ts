/**
 * The whole journal.json as one zod schema: the shared parts from model/,
 * each backup method's, fault's and procedure's own facts from its module.
 * Published as JSON Schema (schemas/journal.schema.json) for auditors and CI
 * tools; the tests validate every shipped drill's journal against it.
 */
import { z } from 'zod';
import { BACKUP_METHODS } from '../backup/index.js';
import { FAULTS } from '../faults/index.js';
import { artifactCommonSchema } from '../model/artifact.js';
import {
  backupListEntrySchema,
  datasetRecordSchema,
  drillSourceSchema,
  engineRecordSchema,
  faultCommonSchema,
  hostSchema,
  JOURNAL_SCHEMA_VERSION,
  measurementSchema,
  mergedSchema,
  phaseSchema,
  projectionSchema,
  rpoMeasurementSchema,
  recentRunSchema,
  RUN_STATUSES,
  runOptionsSchema,
  shardSchema,
  type RunJournal,
} from '../model/journal.js';
import { partRecordSchema } from '../model/parts.js';
import { checkResultSchema, VERDICTS } from '../model/verdict.js';
import { PROCEDURES } from '../recovery/index.js';

/** The fields of a module's facts, merged into its record. */
function fields(detail: z.ZodType): z.ZodRawShape {
  return (detail as unknown as z.ZodObject).shape;
}

function variants<T>(list: readonly T[]): [T, T, ...T[]] {
  return list as unknown as [T, T, ...T[]];
}

const backupArtifactSchema = z.discriminatedUnion(
  'method',
  variants(BACKUP_METHODS.map((m) => artifactCommonSchema.extend({ method: z.literal(m.method), detail: m.detail as z.ZodType }))),
);

const faultRecordSchema = z.discriminatedUnion(
  'type',
  variants(FAULTS.map((f) => faultCommonSchema.extend({ type: z.literal(f.type) }).extend(fields(f.detail)))),
);

const procedureNames = PROCEDURES.map((p) => p.procedure) as [string, ...string[]];
const recoveryRecordSchema = z.union([
  ...PROCEDURES.map((p) => z.strictObject({ procedure: z.literal(p.procedure), summary: z.string() }).extend(fields(p.detail))),
  z.strictObject({ procedure: z.enum(procedureNames), error: z.string() }),
]);

const drillJournalSchema = z.strictObject({
  name: z.string(),
  file: z.string(),
  source: drillSourceSchema.optional(),
  description: z.string().optional(),
  status: z.enum(RUN_STATUSES),
  verdict: z.enum(VERDICTS).optional(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  engine: engineRecordSchema.optional(),
  dataset: datasetRecordSchema.optional(),
  backup: backupArtifactSchema.optional(),
  backups: z.array(backupListEntrySchema).optional(),
  fault: faultRecordSchema.optional(),
  recovery: recoveryRecordSchema.optional(),
  parts: z.array(partRecordSchema).optional(),
  phases: z.array(phaseSchema),
  checks: z.array(checkResultSchema),
  projection: projectionSchema.optional(),
  rto: measurementSchema.optional(),
  rpo: rpoMeasurementSchema.optional(),
  error: z.string().optional(),
  warnings: z.array(z.string()).optional(),
  errorCode: z.string().optional(),
  logErrors: z.array(z.string()).optional(),
  keptFiles: z.array(z.string()).optional(),
  concurrency: z.number().optional(),
});

export const runJournalSchema = z
  .strictObject({
    tool: z.literal('restore-drill'),
    schemaVersion: z.literal(JOURNAL_SCHEMA_VERSION),
    version: z.string(),
    runId: z.string(),
    status: z.enum(RUN_STATUSES),
    verdict: z.enum(VERDICTS).optional(),
    startedAt: z.string(),
    endedAt: z.string().optional(),
    host: hostSchema,
    options: runOptionsSchema,
    error: z.string().optional(),
    recentRuns: z.record(z.string(), z.array(recentRunSchema)).optional(),
    shard: shardSchema.optional(),
    merged: mergedSchema.optional(),
    drills: z.array(drillJournalSchema),
  })
  .meta({
    title: 'restore-drill journal.json',
    description: 'Everything one run of restore-drill did: each drill with its phases and commands, the backup, the fault, the recovery, the checks and the measurements.',
  });

/** The journal as the harness writes it, checked against the published schema. */
export function journalProblems(journal: unknown): string[] {
  const result = runJournalSchema.safeParse(journal);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
}

// The TypeScript types the harness writes with and the schema it publishes must agree.
const typesMatchSchema: RunJournal extends z.output<typeof runJournalSchema> ? true : false = true;
void typesMatchSchema;
