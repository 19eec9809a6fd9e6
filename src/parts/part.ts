/**
 * A part of the whole system beside the database: Redis, a configuration
 * file set, encrypted secrets. One module per kind, one line in the registry
 * (index.ts). A part is started, seeded, backed up, struck and recovered the
 * way its runbook says; it reports facts (model/parts.ts) and checks/parts.ts
 * judges them. The drill runs the parts in the order the drill file lists
 * them, after the database.
 */
import type { z } from 'zod';
import type { CommandContext } from '../exec/command.js';
import type { PartBackup, PartRecovery, PartState, PartWrites } from '../model/parts.js';
import type { Instant } from '../support/clock.js';

/** What a part may use of its drill. */
export interface PartHost {
  /** A folder of its own (instance, files, backups); the part removes what it made, unless kept. */
  workDir: string;
  /** The drill's folder in the run (logs worth keeping). */
  logDir: string;
  /** The drill's seed: the same seed gives the same content. */
  seed: number;
  /** The run's id, on whatever the part leaves outside its folder (a container's labels). */
  runId: string;
  /** The drill's engine: a part that can run either way and names none runs on it. */
  engine: 'native' | 'docker';
  /** Every command goes through exec/command.ts with this context, so it lands in the journal. */
  commands: CommandContext;
}

/** One part, started: every step of its drill. */
export interface PartInstance {
  /** Writes its deterministic content. */
  seed(): Promise<void>;
  /** Starts numbered writes, where the part has a writer (Redis). */
  startWrites?(): Promise<void>;
  /** Takes one backup generation the runbook's way, and the state it holds (the content the restore must equal). */
  backup(): Promise<{ backup: PartBackup; state: PartState }>;
  /** The fault: its moment and what it did. */
  strike(): Promise<{ at: Instant; summary: string }>;
  /** Stops the writer after the fault; returns nothing, the writes are counted after recovery. */
  stopWrites?(): Promise<void>;
  /** The recovery procedure: never throws for a failed recovery, it says so (ok: false, error). */
  recover(): Promise<PartRecovery>;
  /** What the part holds now; never throws: what cannot be read is `unreachable`. */
  read(): Promise<PartState | { unreachable: string }>;
  /** The numbered writes against what came back (with the fault's moment, for the loss window). */
  writes?(fault: Instant): Promise<PartWrites | { unread: string }>;
  /** Stops what it started and removes its folders (keeps them with `keep`). Safe to call twice. */
  dispose(keep: boolean): Promise<void>;
}

export interface PartModule<S extends { kind: string } = { kind: string }> {
  kind: S['kind'];
  /** One line for the drill file reference: what it backs up, how, and how it comes back. */
  summary: string;
  /** Its section of the drill file: `kind: z.literal(...)`, `name`, its backup, fault and recovery options, `targets`. */
  schema: z.ZodObject;
  /** Whether this machine can run it as `spec` says (e.g. redis-server present, or Docker and its image), with the reason when not; without a spec, with the kind's defaults. */
  available(spec?: S, engine?: PartHost['engine']): Promise<{ ok: true } | { ok: false; why: string }>;
  start(host: PartHost, spec: S): Promise<PartInstance>;
}
