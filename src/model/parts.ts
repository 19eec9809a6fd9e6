/**
 * The parts of a whole system beside the database (Redis, configuration
 * files, encrypted secrets), as a drill records them: facts only. Each part
 * module (src/parts/) reports them; checks/parts.ts judges them.
 */
import { z } from 'zod';

/** What a part holds, reduced to a count and one content hash: the state at the backup, and after recovery. */
const partStateSchema = z.strictObject({
  items: z.number().describe('Keys (Redis) or files (a file set) compared.'),
  fingerprint: z.string().describe("A hash over every compared item's name and content (for files, mode and owner too): equal states hash equal."),
  perItem: z.record(z.string(), z.string()).optional().describe('Each item by name with its own hash, where few enough to record: names what differs.'),
});
export type PartState = z.output<typeof partStateSchema>;

/** One backup of a part, as taken: the file the runbook's commands wrote, and its checksum at that moment. */
const partBackupSchema = z.strictObject({
  path: z.string(),
  sizeBytes: z.number(),
  sha256: z.string(),
  takenAt: z.string(),
  detail: z.record(z.string(), z.unknown()).optional().describe("What the method did, in its own words (BGSAVE's LASTSAVE, the AOF's files, tar's file list)."),
});
export type PartBackup = z.output<typeof partBackupSchema>;

/** The numbered writes a part's writer made (Redis): acknowledged ones, and which came back. */
const partWritesSchema = z.strictObject({
  acknowledged: z.number(),
  recovered: z.number(),
  lost: z.number(),
  unacknowledgedFound: z.number().describe('Written but never acknowledged, found anyway (a write the fault cut off): neither loss nor error.'),
  lossMs: z.number().describe('From the first lost acknowledged write to the fault: the window of writes that is gone (the RPO measured).'),
  afterBackup: z.number().describe('Acknowledged after the backup used was taken: what a perfect restore of it loses.'),
});
export type PartWrites = z.output<typeof partWritesSchema>;

const integrityStepSchema = z.strictObject({ check: z.string(), ok: z.boolean(), detail: z.string() });

/** How a part's recovery went, as the runbook says. */
const partRecoverySchema = z.strictObject({
  ok: z.boolean(),
  error: z.string().optional().describe('Why it did not, in the tool\'s words.'),
  integrity: z.array(integrityStepSchema).describe('The checks run on each backup before it was trusted, in order, until one failed.'),
  usedBackup: z.string().optional().describe('The backup the part came back from: the newest that passed its checks.'),
  repair: z.strictObject({ tool: z.string(), detail: z.string() }).optional().describe('A repair the runbook calls for (redis-check-aof --fix), and what it cut.'),
});
export type PartRecovery = z.output<typeof partRecoverySchema>;

export const partRecordSchema = z.strictObject({
  name: z.string(),
  kind: z.string(),
  backups: z.array(partBackupSchema),
  fault: z.strictObject({ type: z.string(), summary: z.string(), at: z.string() }).optional(),
  expected: partStateSchema.optional().describe('The state the backup holds: what the recovery must bring back.'),
  recovery: partRecoverySchema.optional(),
  found: z.union([partStateSchema, z.strictObject({ unreachable: z.string() })]).optional(),
  writes: z.union([partWritesSchema, z.strictObject({ unread: z.string() })]).optional(),
  durationMs: z.number().optional().describe('Its own recovery and verification, after the parts before it.'),
  rtoMs: z.number().optional().describe('From the fault to this part verified: how long the system was without it. Absent when its verification did not pass.'),
});
export type PartRecord = z.output<typeof partRecordSchema>;
