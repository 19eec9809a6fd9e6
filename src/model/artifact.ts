/**
 * What a backup produced: where it is, how big, the SHA-256 of every file (so
 * any later change is caught before it is trusted), the tool that made it,
 * and, for physical backups, the WAL range recovery needs. The method's own
 * facts are typed by each backup method module, which adds its entry to
 * BackupDetails.
 */
import { z } from 'zod';

const artifactFileSchema = z.strictObject({ name: z.string(), sizeBytes: z.number(), sha256: z.string() });
export type ArtifactFile = z.output<typeof artifactFileSchema>;

/** The WAL a physical backup needs: from its start to its end, and the segment it ended in. */
const walRangeSchema = z.strictObject({
  timeline: z.number().optional(),
  startLsn: z.string(),
  endLsn: z.string(),
  endSegment: z.string().optional(),
  segmentBytes: z.number().optional(),
});

export const artifactCommonSchema = z.strictObject({
  format: z.string().describe('custom or plain.gz (dumps), tar.gz (pg_basebackup), full + incr (pgBackRest), streaming replication.'),
  path: z.string().describe('The dump file, or the backup\'s folder.'),
  sidecar: z.string().describe('The sha256sum-format file listing the digests; empty when there is none (a standby, a script that wrote none).'),
  files: z.array(artifactFileSchema),
  sizeBytes: z.number(),
  sha256: z.string().describe('The file\'s digest, or the digest of the listing that names a folder\'s files.'),
  tool: z.string().describe('The tool binary and version that made it.'),
  wal: walRangeSchema.optional(),
  /** The source's fingerprint taken in the dump's snapshot (restore-drill fingerprint), written beside it: the restore must equal it. */
  fingerprint: z.string().optional(),
  /** The command a restored server fetches archived WAL with (the team's own); `cp` from the archive folder when absent. */
  restoreCommand: z.string().optional(),
  /** A backup made elsewhere: when its newest data was written, and how that is known (its age is what losing production now would cost). */
  written: z.strictObject({ at: z.string(), by: z.string() }).optional(),
  /** The timescaledb extension version of the database when it was backed up: a restore must start from the same. */
  timescaledb: z.string().optional(),
  /** The PostgreSQL major the backed-up server ran: a physical backup restores into the same major only. */
  serverMajor: z.number().optional(),
  /**
   * The source's settings a hot standby or a replaying server must match or exceed
   * (max_connections, max_worker_processes, ...): a physical restore starts with at least these.
   */
  replaySettings: z.record(z.string(), z.number()).optional(),
});
type ArtifactCommon = z.output<typeof artifactCommonSchema>;

/** Each backup method module adds `'<method>': { ...its facts }` here (module augmentation). */
export interface BackupDetails {}

export type BackupMethodName = keyof BackupDetails & string;

export type BackupArtifact = { [M in BackupMethodName]: ArtifactCommon & { method: M; detail: BackupDetails[M] } }[BackupMethodName];

/** An artifact of one method, for the module that made it. */
export type ArtifactOf<M extends BackupMethodName> = Extract<BackupArtifact, { method: M }>;
