/**
 * What a fault is: its options in the drill file, what it leaves broken (so
 * the recovery procedures that repair it are known), what it needs of the
 * engine and of the backup, and how it does its damage while the workload
 * writes. It reports what it did and saw; it never judges. One module per
 * fault, assembled in faults/index.ts.
 */
import type { z } from 'zod';
import type { CapabilityName, Instance } from '../engines/types.js';
import type { Client } from '../pg/client.js';
import type { BackupArtifact } from '../model/artifact.js';
import type { FaultDetails, FaultType } from '../model/journal.js';
import type { BackupFeature, Harm } from '../model/kinds.js';
import type { RecoveryMarker } from '../model/moments.js';
import type { Observation } from '../model/observations.js';
import type { DatabaseState } from '../model/snapshot.js';
import type { Instant } from '../support/clock.js';
import type { LedgerWorkload } from '../workload/ledger.js';

interface FaultContext {
  instance: Instance;
  database: string;
  workload: LedgerWorkload;
  /** Every backup taken, oldest first. */
  backups: readonly BackupArtifact[];
  /** The dataset's seed: random choices (an offset to corrupt) repeat with it. */
  seed: number;
  /** The dataset's state now, to compare a recovery against. */
  capture: () => Promise<DatabaseState>;
}

export interface FaultOutcome<D> {
  summary: string;
  /** The moment of the damage: RTO counts from here, and the data loss up to it. */
  at: Instant;
  /** What the journal records of it. */
  detail: D;
  /** The state a correct recovery brings back, when it is not the state at the backup. */
  expected?: DatabaseState;
  /** The recovery target recorded just before the damage. */
  marker?: RecoveryMarker;
  /** What the fault saw on its way (detectors that caught a corrupt page), judged in checks/. */
  observations?: Observation[];
  /** Undoes what the fault did outside the instance (a backup, the archive), so nothing stays broken. */
  heal?: () => Promise<void>;
  /** Backups the fault left among the drill's backups (tonight's half-written dump), newest last. */
  addedBackups?: BackupArtifact[];
  /** Files the incident left on the server's disk that a remedy removes (what filled it). */
  debris?: string[];
}

interface FaultRequirements {
  /** What the engine must offer. */
  capabilities?: readonly CapabilityName[];
  /** What the backup method must offer (model/kinds.ts). */
  backupFeatures?: readonly BackupFeature[];
  /** The drill must give engine.dataVolume (a size-limited data folder). */
  dataVolume?: boolean;
}

export interface Fault<T extends FaultType = FaultType, S extends z.ZodObject = z.ZodObject> {
  readonly type: T;
  /** One line for `list` and the docs. */
  readonly summary: string;
  /** The `fault:` options of a drill file, `type` included. */
  readonly schema: S;
  /** What the journal records of it (FaultDetails[T]). */
  readonly detail: z.ZodType<FaultDetails[T]>;
  readonly requires?: FaultRequirements;
  /** Whether the fault records a recovery target (a point-in-time recovery can stop just before it). */
  readonly marksRecoveryTarget?: boolean;
  /** What it leaves broken. */
  harm(spec: z.output<S>): Harm;
  /** The table it damages, which restore-table brings back when the drill names none. */
  damagedTable?(spec: z.output<S>): string | undefined;
  /** The fault and its main option, as a person reads it. */
  label(spec: z.output<S>): string;
  /**
   * What only the server can tell about its options (SQL parsed and planned
   * against the seeded schema, not run), asked once the data is seeded and
   * before anything is backed up: a problem as `field: why`.
   */
  check?(client: Client, spec: z.output<S>): Promise<string | undefined>;
  inject(ctx: FaultContext, spec: z.output<S>): Promise<FaultOutcome<FaultDetails[T]>>;
}

/** Declares a fault, typed by its own schema. */
export function defineFault<T extends FaultType, S extends z.ZodObject>(fault: Fault<T, S>): Fault<T, S> {
  return fault;
}
