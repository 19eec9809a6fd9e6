/**
 * The parts of a whole system beside the database (Redis, configuration
 * files, secrets: the runbook's complete system recovery), carried through
 * the drill's phases: started at setup, seeded, writing beside the
 * workload, backed up after the database, struck with it, then recovered
 * one by one in the drill file's order once the database is verified. Each
 * part's RTO runs from the drill's fault to that part verified, so the last
 * one is the whole system's; its loss window ends at its own fault.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgePart, judgeSystem, type Targets } from '../checks/parts.js';
import { UnsupportedError } from '../errors.js';
import type { DrillJournal } from '../model/journal.js';
import type { PartRecord, PartState } from '../model/parts.js';
import type { CheckResult } from '../model/verdict.js';
import { partModule, type PartSpec } from '../parts/index.js';
import type { PartHost, PartInstance } from '../parts/part.js';
import { registerCleanup } from '../support/cleanup.js';
import { now, type Instant } from '../support/clock.js';

interface Started {
  spec: PartSpec;
  instance: PartInstance;
  record: PartRecord;
  workDir: string;
  /** Removes the folder on Ctrl-C (the part stops its own processes); dropped once the drill disposes of it. */
  unregister: () => void;
  /** The state each backup holds, by path: the one the recovery used is what must come back. */
  states: Map<string, PartState>;
  /** When its own fault struck: its loss window ends there. */
  struck?: Instant;
}

export class SystemParts {
  private readonly started: Started[] = [];

  constructor(private readonly drill: DrillJournal) {}

  get any(): boolean {
    return this.started.length > 0;
  }

  /** Starts each part (refused with the reason where this machine cannot run it); what started is disposed even if a later one fails. */
  async start(specs: readonly PartSpec[], host: Omit<PartHost, 'workDir'>): Promise<void> {
    for (const spec of specs) {
      const module = partModule(spec.kind);
      const available = await module.available(spec, host.engine);
      if (!available.ok) throw new UnsupportedError(`part ${spec.name} (${spec.kind}): ${available.why}`);
      // Named by the run, as the instances' folders are, so a run's leftovers can be found by its id.
      const workDir = await mkdtemp(join(tmpdir(), `restore-drill-${host.runId}-${this.drill.name}-${spec.name}-`));
      const unregister = registerCleanup(() => rm(workDir, { recursive: true, force: true }));
      const record: PartRecord = { name: spec.name, kind: spec.kind, backups: [] };
      try {
        const instance = await module.start({ ...host, workDir }, spec);
        this.started.push({ spec, instance, record, workDir, unregister, states: new Map() });
        (this.drill.parts ??= []).push(record);
      } catch (error) {
        unregister();
        await rm(workDir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  async seed(): Promise<void> {
    for (const { instance } of this.started) await instance.seed();
  }

  async startWrites(): Promise<void> {
    for (const { instance } of this.started) await instance.startWrites?.();
  }

  /** Each part's generations, the runbook's way; the newest's state is what the recovery must bring back unless it uses another. */
  async backup(): Promise<void> {
    for (const part of this.started) {
      const generations = part.spec.generations ?? 1;
      for (let generation = 1; generation <= generations; generation++) {
        const { backup, state } = await part.instance.backup();
        part.record.backups.push(backup);
        part.states.set(backup.path, state);
        part.record.expected = state;
      }
    }
  }

  async strike(): Promise<void> {
    for (const part of this.started) {
      const { at, summary } = await part.instance.strike();
      part.struck = at;
      part.record.fault = { type: part.spec.fault.type, summary, at: at.wall };
    }
  }

  async stopWrites(): Promise<void> {
    for (const { instance } of this.started) await instance.stopWrites?.();
  }

  /** In order, after the database: each part recovered, read and judged; then the whole system. */
  async recover(fault: Instant, system: Targets, found: (...checks: CheckResult[]) => void): Promise<void> {
    for (const { spec, instance, record, states, struck } of this.started) {
      const started = now();
      record.recovery = await instance.recover();
      if (record.recovery.usedBackup && states.has(record.recovery.usedBackup)) record.expected = states.get(record.recovery.usedBackup);
      record.found = await instance.read();
      if (instance.writes) record.writes = await instance.writes(struck ?? fault);
      const verified = now();
      record.durationMs = verified.mono - started.mono;
      const judged = judgePart(record, spec.targets ?? system, verified.mono - fault.mono);
      if (judged.rtoMs !== undefined) record.rtoMs = judged.rtoMs;
      found(...judged.checks);
    }
    found(...judgeSystem({ rto: this.drill.rto, rpo: this.drill.rpo, checks: this.drill.checks }, this.started.map((p) => p.record), system));
  }

  /** Stops every part and removes its folder, unless kept: the kept folders are returned. */
  async dispose(keep: boolean): Promise<string[]> {
    const kept: string[] = [];
    for (const { instance, workDir, unregister } of this.started.splice(0)) {
      await instance.dispose(keep);
      unregister();
      if (keep) kept.push(workDir);
      else await rm(workDir, { recursive: true, force: true });
    }
    return kept;
  }
}
