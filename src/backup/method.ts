/**
 * What a backup method is: its options in the drill file, what it makes
 * (its family), what it needs of the engine, the client tools whose versions
 * matter, how it sets up the instance (WAL archiving, a standby), how it
 * takes a backup, and how a backup it made is checked before it is trusted.
 * One module per method, assembled in backup/index.ts.
 */
import { z } from 'zod';
import type { CapabilityName, Instance, InstanceOptions } from '../engines/types.js';
import type { BackupArtifact, BackupDetails, BackupMethodName } from '../model/artifact.js';
import type { BackupFeature, Family } from '../model/kinds.js';
import type { RecoveryTargetKind } from '../model/moments.js';
import type { PgTool } from '../pg/versions.js';
import { duration } from '../support/fields.js';

/** What taking a backup may use. */
interface BackupContext {
  /** The instance the drill strikes later. */
  primary: Instance;
  /** The hot standby, when the method started one (startReplica). */
  standby?: Instance;
  database: string;
  /** The environment a team script gets (the connection, the run). */
  scriptEnv: () => Promise<Record<string, string>>;
}

/** One check of a backup's integrity chain; it throws when the backup fails it and returns what it found otherwise. */
export interface IntegrityCheck {
  check: string;
  run: () => Promise<string>;
}

export interface BackupMethod<M extends BackupMethodName = BackupMethodName, S extends z.ZodObject = z.ZodObject> {
  readonly method: M;
  /** One line for `list` and the docs. */
  readonly summary: string;
  readonly family: Family;
  /** The `backup:` options of a drill file, `method` included. */
  readonly schema: S;
  /** The method's own facts in an artifact's `detail`, as the journal records them. */
  readonly detail: z.ZodType<BackupDetails[M]>;
  /** What the faults that act on backups can do with this one. */
  readonly features?: readonly BackupFeature[];
  /** What the engine must offer. */
  readonly requires?: readonly CapabilityName[];
  /** The method and its main option, as a person reads it: "pg_dump (custom)". */
  label(spec: z.output<S>): string;
  /** The client tools whose major version must match the server's. */
  tools(spec: z.output<S>): readonly PgTool[];
  /** What the struck instance needs from its first start (WAL archiving). */
  instanceOptions?(spec: z.output<S>): Pick<InstanceOptions, 'walArchive'>;
  /** A hot standby started beside the primary before the workload begins. */
  startReplica?(ctx: { primary: Instance; start: (options: InstanceOptions) => Promise<Instance> }): Promise<Instance>;
  /** Takes one generation of backups (a team script may write several files). */
  take(ctx: BackupContext, spec: z.output<S>): Promise<BackupArtifact[]>;
  /** The checks a backup goes through before it is trusted, cheapest first. `besideServer`: commands can still run where the server ran. */
  integrityChain(artifact: BackupArtifact, instance: Instance, besideServer: boolean): IntegrityCheck[];
  /**
   * A method whose tool restores its own backups (pgBackRest): fills an
   * empty data folder from the backup, set to replay to the target (`stopAt`,
   * the target's value; the end of the archive without it) and promote, with
   * its own restore_command. Returns the arguments it used.
   * Without it, point-in-time recovery unpacks the backup and replays a plain archive.
   */
  restoreInto?(instance: Instance, backup: BackupArtifact, dataDir: string, target: RecoveryTargetKind, stopAt?: string): Promise<string[]>;
  /** The file that holds the backup's data, for faults that damage it. */
  dataFile?(artifact: BackupArtifact): string | Promise<string>;
  /** Writes the backup's checksums anew, for the faults whose damage comes before the checksum. */
  rewriteChecksums?(artifact: BackupArtifact): Promise<void>;
  /**
   * Removes what the method stored for the drill outside the instance's own
   * folder (a repository in a bucket), at a teardown that keeps no files;
   * says what it removed. Never a backup made elsewhere.
   */
  discard?(instance: Instance): Promise<string | undefined>;
}

/** Declares a method, typed by its own schema. */
export function defineMethod<M extends BackupMethodName, S extends z.ZodObject>(method: BackupMethod<M, S>): BackupMethod<M, S> {
  return method;
}

export const generations = z.number().int().min(1).max(5).default(1).describe('Backups taken one after another (with writes between); recovery falls back to an older one if the newest fails its checks.');

export const archiveTimeout = duration.prefault('1s').describe('Physical methods: archive_timeout, the bound on unarchived writes.');
