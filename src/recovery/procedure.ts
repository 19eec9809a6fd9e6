/**
 * What a recovery procedure is: its options in the drill file, which harms it
 * repairs (so it is only paired with faults it can recover from), what it
 * needs of the backup and the engine, and how it runs, as the runbooks
 * describe it. It reports what it saw (which backup passed its checks, the
 * archive's continuity); checks/ judges. One module per procedure, assembled
 * in recovery/index.ts.
 */
import type { z } from 'zod';
import type { CapabilityName, Engine, Instance } from '../engines/types.js';
import type { BackupArtifact } from '../model/artifact.js';
import type { ProcedureName, RecoveryDetails } from '../model/journal.js';
import type { Family, Harm } from '../model/kinds.js';
import type { RecoveryMarker } from '../model/moments.js';
import type { Observation } from '../model/observations.js';

export interface RecoveryContext {
  engine: Engine;
  /** A separate restore target's engine, when the drill names one: procedures that can restore into a new instance of it. */
  target?: Engine;
  /** The instance the fault struck. */
  instance: Instance;
  /** The hot standby, when the drill keeps one (backup method standby). */
  standby?: Instance;
  drillName: string;
  /** The drill's database. */
  database: string;
  /** The drill's RTO target: waits for a restored server are at least this long. */
  rtoTargetMs: number;
  /** Every backup taken, oldest first: recovery uses the newest that passes its checks. */
  backups: readonly BackupArtifact[];
  /** What the fault left for the recovery to know: the recovery target it recorded, the files that filled the disk. */
  fault: { marker?: RecoveryMarker; debris?: readonly string[] };
  /** Where a new instance's server log is kept. */
  logDir: string;
  /** The environment a team's restore script gets (the connection, the run). */
  scriptEnv: () => Promise<Record<string, string>>;
  /** Called with every instance the procedure starts, at once, so it is torn down even if recovery fails later. */
  track: (instance: Instance) => void;
  /** Called with what the procedure saw on its way, judged in checks/. */
  observe: (observation: Observation) => void;
}

export interface RecoveryOutcome<D> {
  /** The instance that holds the recovered data: the struck one, or a new one. */
  instance: Instance;
  summary: string;
  detail: D;
  /** It stopped at the fault's recorded recovery target: rows written after the target must be absent. */
  atMarker?: boolean;
  /** The backup it restored from: a fingerprint taken with it (its sidecar) is compared with the result. */
  restoredFrom?: BackupArtifact;
  /**
   * It restored this one table alone: the checks against the backup (its
   * sidecar, its rows) narrow to it, and to the dump's tables that hold its
   * rows (a hypertable's chunks). `wholeDatabase`: the rest of the dump came
   * too (TimescaleDB restores a hypertable only with its database).
   */
  onlyTable?: { schema: string; name: string; dumpedAs: string[]; wholeDatabase?: boolean };
  /** It restored without the dump's owners and grants (pg_restore --no-owner --no-privileges): those are not compared. */
  withoutOwners?: boolean;
  /** The TimescaleDB version the procedure left the database at when it changed it on purpose (restored at the dump's version, then updated). */
  timescaleVersion?: string;
}

interface ProcedureRequirements {
  /** The backup families it restores from (any when absent). */
  families?: readonly Family[];
  /** The backup formats it reads, where the backup's options name one (pg_dump's format). */
  formats?: readonly string[];
  capabilities?: readonly CapabilityName[];
  /** It can restore into a new instance of a separate restore target (engine.restoreBinDir / restoreImage). */
  separateTarget?: boolean;
}

export interface Procedure<P extends ProcedureName = ProcedureName, S extends z.ZodObject = z.ZodObject> {
  readonly procedure: P;
  /** One line for `list` and the docs. */
  readonly summary: string;
  /** The `recovery:` options of a drill file, `procedure` included. */
  readonly schema: S;
  /** What the journal records of it (RecoveryDetails[P]). */
  readonly detail: z.ZodType<RecoveryDetails[P]>;
  readonly requires?: ProcedureRequirements;
  /** The harms it can repair. */
  readonly heals: readonly Harm[];
  /** Why, with these options, it cannot repair a harm it otherwise can (undefined when it can). */
  cannotHeal?(spec: z.output<S>, harm: Harm): string | undefined;
  /** Whether it needs the recovery target a fault records (marksRecoveryTarget). */
  needsRecoveryTarget?(spec: z.output<S>): boolean;
  /** Whether its `table` option defaults to the table the fault damaged. */
  readonly takesDamagedTable?: boolean;
  /** The procedure and its main option, as a person reads it. */
  label(spec: z.output<S>): string;
  run(ctx: RecoveryContext, spec: z.output<S>): Promise<RecoveryOutcome<RecoveryDetails[P]>>;
}

/** Declares a procedure, typed by its own schema. */
export function defineProcedure<P extends ProcedureName, S extends z.ZodObject>(procedure: Procedure<P, S>): Procedure<P, S> {
  return procedure;
}

/** Waits for a restored or promoted server: at least the RTO target, and never less than ten minutes. */
export function recoveryWaitMs(ctx: Pick<RecoveryContext, 'rtoTargetMs'>): number {
  return Math.max(ctx.rtoTargetMs, 600_000);
}
