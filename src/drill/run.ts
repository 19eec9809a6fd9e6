/**
 * A run: the journal, its listeners, the engines the drills share, and
 * Ctrl-C. Drills run one after another by default: their timings are
 * measurements and should not compete for the machine's cores. `--jobs N`
 * runs up to N at once where a run's time matters more than its timings;
 * each drill then records how many ran beside it, and the report says so.
 * A file run at several sizes stays one after another (its RTO is fitted
 * against size). What a drill does is in drill.ts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { projectionOf, type SizedRto } from '../checks/projection.js';
import { createEngine, defaultImage, type EngineChoice } from '../engines/index.js';
import type { Engine, EngineKind } from '../engines/types.js';
import { errorMessage, OutputError } from '../errors.js';
import { JOURNAL_SCHEMA_VERSION, type CommandRecord, type DrillJournal, type RunJournal } from '../model/journal.js';
import { drillVerdict, runVerdict } from '../model/outcome.js';
import { runAllCleanups } from '../support/cleanup.js';
import { VERSION } from '../support/version.js';
import { backupMethod } from '../backup/index.js';
import { runDrill } from './drill.js';
import { runExistingDrill } from './existing-drill.js';
import type { DrillHost } from './frame.js';
import type { RunListener } from './events.js';
import { journalFile, releaseRoom, reserveRoom, writeJournal } from './journal-file.js';
import { PhaseRecorder } from './phases.js';
import type { DrillSpec, LoadedDrill, ProjectionGroup } from './spec.js';

export interface RunOptions {
  /** Parent folder of the run's report folder. */
  reportsDir: string;
  /** Keep every instance's files, not only a failed drill's. */
  keep: boolean;
  binDir?: string;
  /** Overrides every drill's engine.kind (the --engine flag). */
  engine?: EngineKind;
  /** Overrides every drill's engine.image (the --image flag). */
  image?: string;
  listeners: RunListener[];
  /** `--shard K/N`: this run's part of the drills named, recorded for merge-reports. */
  shard?: NonNullable<RunJournal['shard']>;
  /** `--jobs N`: how many drills may run at once (default 1). */
  jobs?: number;
  /** Where a listener that throws is reported; the run goes on without it. Default: stderr. */
  onListenerError?: (message: string) => void;
}

/**
 * The engine a drill runs on: the flags first, then the drill file, then the
 * defaults; a drill's own bin folder wins over --pg-bin, which is the default
 * for drills that name none. With `restore`, the engine of the drill's
 * separate restore target, when it names one.
 */
function engineChoice(spec: DrillSpec, options: Pick<RunOptions, 'engine' | 'image' | 'binDir'>, restore = false): EngineChoice | undefined {
  const kind = options.engine ?? spec.engine.kind;
  if (kind === 'docker') {
    const image = restore ? spec.engine.restoreImage : (options.image ?? spec.engine.image ?? defaultImage());
    return image ? { kind, image, tools: spec.engine.tools, network: spec.engine.network } : undefined;
  }
  const binDir = restore ? spec.engine.restoreBinDir : (spec.engine.binDir ?? options.binDir);
  return restore && !binDir ? undefined : { kind, binDir };
}

export function newRunId(at = new Date()): string {
  return `${at.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(2).toString('hex')}`;
}

export class DrillRun {
  readonly journal: RunJournal;
  readonly dir: string;
  private stopped = false;
  /**
   * The drill whose code is running: its recorder files the commands the
   * shared engines run. Async context, not a field: with --jobs, several drills' commands interleave.
   */
  private readonly current = new AsyncLocalStorage<{ recorder?: PhaseRecorder }>();
  /** The drills running now, each with the most that ran at once while it did. */
  private readonly running = new Map<DrillJournal, number>();
  private readonly journalFile: RunListener;
  private readonly listeners: RunListener[];
  /** Set when the journal could not be written; the run stops and ends with it. */
  private outputFailure?: OutputError;
  private cleanedUp?: Promise<void>;
  private readonly engines = new Map<string, Promise<Engine>>();

  constructor(
    private readonly drills: readonly LoadedDrill[],
    private readonly options: RunOptions,
  ) {
    const runId = newRunId();
    this.dir = join(options.reportsDir, runId);
    this.journal = {
      tool: 'restore-drill',
      schemaVersion: JOURNAL_SCHEMA_VERSION,
      version: VERSION,
      runId,
      status: 'running',
      startedAt: new Date().toISOString(),
      host: { hostname: hostname(), platform: `${process.platform}-${process.arch}`, node: process.version, pid: process.pid },
      options: { keep: options.keep, binDir: options.binDir ?? null, drills: drills.map((d) => d.file), ...((options.jobs ?? 1) > 1 ? { jobs: options.jobs } : {}) },
      ...(options.shard ? { shard: options.shard } : {}),
      drills: [],
    };
    this.journalFile = journalFile(this.dir);
    this.listeners = options.listeners;
  }

  /**
   * The journal file hears every event first; a journal that cannot be written
   * stops the run (evidence that cannot be kept must not be gathered). Every
   * other listener hears it too; one that throws is reported, and the others and the run go on.
   */
  private emit(call: (listener: RunListener) => void): void {
    if (!this.outputFailure) {
      try {
        call(this.journalFile);
      } catch (error) {
        this.failOutputs(error);
      }
    }
    for (const listener of this.listeners) {
      try {
        call(listener);
      } catch (error) {
        (this.options.onListenerError ?? ((line) => process.stderr.write(`${line}\n`)))(`restore-drill: a progress listener failed: ${errorMessage(error)}`);
      }
    }
  }

  /** Marks the run and its running drill interrupted (Ctrl-C); the journal says so, not nothing. */
  interrupt(): void {
    this.stop('interrupted');
  }

  /** The run ends here: its running drill is cut short (unknown, never a finding), and the run gets the status given. */
  private stop(status: 'interrupted' | 'aborted', error?: string): void {
    if (this.stopped) return;
    const at = new Date().toISOString();
    for (const drill of this.journal.drills.filter((d) => d.status === 'running')) {
      for (const phase of drill.phases.filter((p) => p.status === 'running')) {
        Object.assign(phase, { status: 'failed', endedAt: at, error: error ?? 'interrupted' });
      }
      Object.assign(drill, { status: 'interrupted', endedAt: at, verdict: 'unknown' }, error ? { error } : {});
      this.emit((l) => l.drillEnded?.(this.journal, drill));
    }
    this.journal.status = status;
    this.journal.verdict = 'unknown';
    this.journal.endedAt = at;
    if (error) this.journal.error = error;
    this.emit((l) => l.runEnded?.(this.journal));
    this.stopped = true;
  }

  /** The journal could not be written (a full disk, a lost permission): stop the servers now, and the run with them. */
  private failOutputs(error: unknown): void {
    if (this.outputFailure) return;
    this.outputFailure = new OutputError(
      `${join(this.dir, 'journal.json')}: the journal could not be written (${errorMessage(error)}), so the run stopped and its servers with it. ` +
        `Free space or fix the permissions under ${this.options.reportsDir}, then run again.`,
      { cause: error },
    );
    this.stop('aborted', this.outputFailure.message);
    this.cleanedUp = runAllCleanups();
  }

  async run(): Promise<RunJournal> {
    this.emit((l) => l.runStarted?.(this.journal));
    await reserveRoom(this.dir).catch((error: unknown) => this.failOutputs(error));
    try {
      await this.runAll();
      if (!this.stopped) this.journal.status = 'completed';
    } catch (error) {
      // A drill's own failures are findings recorded in its journal; reaching here is a
      // harness bug (or the fallout of stopping for the journal). The journal says so before the error goes on.
      if (!this.outputFailure) {
        this.journal.status = 'aborted';
        this.journal.error = errorMessage(error);
        throw error;
      }
    } finally {
      for (const engine of this.engines.values()) await (await engine.catch(() => undefined))?.dispose();
      if (!this.stopped) {
        this.journal.verdict = runVerdict(this.journal.drills);
        this.journal.endedAt = new Date().toISOString();
        this.emit((l) => l.runEnded?.(this.journal));
      }
      if (!this.outputFailure) releaseRoom(this.dir);
    }
    if (this.outputFailure) {
      await this.cleanedUp;
      // The room set aside at the start is for this: the journal's last word.
      releaseRoom(this.dir);
      try {
        writeJournal(this.dir, this.journal);
      } catch {
        // The error below names the journal and why it could not be written.
      }
      throw this.outputFailure;
    }
    return this.journal;
  }

  /**
   * The drills, up to --jobs at once, in the order named. A file run at
   * several sizes is one unit: its sizes run one after another. A harness
   * error stops new drills from starting; the running ones end, then it is thrown.
   */
  private async runAll(): Promise<void> {
    const units: LoadedDrill[][] = [];
    const groups = new Map<string, LoadedDrill[]>();
    for (const drill of this.drills) {
      const group = drill.projection?.name;
      const unit = group === undefined ? undefined : groups.get(group);
      if (unit) unit.push(drill);
      else {
        units.push([drill]);
        if (group !== undefined) groups.set(group, units.at(-1)!);
      }
    }
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      for (let unit = units.shift(); unit && !failure; unit = units.shift()) {
        for (const drill of unit) {
          if (this.stopped || failure) return;
          // A backup made elsewhere has no seed, workload or fault of ours: its drill runs a flow of its own.
          const flow = backupMethod(drill.spec.backup.method).features?.includes('made-elsewhere') ? runExistingDrill : runDrill;
          await this.current.run({}, () => flow(this.host(drill), drill)).catch((error: unknown) => {
            failure ??= { error };
          });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.options.jobs ?? 1, units.length)) }, worker));
    if (failure) throw failure.error;
  }

  /** What one drill may use of the run. */
  private host({ spec, projection }: LoadedDrill): DrillHost {
    return {
      runId: this.journal.runId,
      keep: this.options.keep,
      logDir: join(this.dir, spec.name),
      interrupted: () => this.stopped,
      engine: () => this.engine(engineChoice(spec, this.options)!),
      restoreEngine: () => {
        const choice = engineChoice(spec, this.options, true);
        return choice ? this.engine(choice) : Promise.resolve(undefined);
      },
      begin: (drill) => {
        this.journal.drills.push(drill);
        this.running.set(drill, 0);
        for (const [other, most] of this.running) this.running.set(other, Math.max(most, this.running.size));
        const recorder = new PhaseRecorder(
          {
            interrupted: () => this.stopped,
            phaseStarted: (d, phase) => this.emit((l) => l.phaseStarted?.(this.journal, d, phase)),
            phaseEnded: (d, phase) => this.emit((l) => l.phaseEnded?.(this.journal, d, phase)),
            phaseProgress: (d, phase, elapsedMs, note) => this.emit((l) => l.phaseProgress?.(this.journal, d, phase, elapsedMs, note)),
            commandRan: (d, command) => this.emit((l) => l.commandRan?.(this.journal, d, command)),
          },
          drill,
        );
        const context = this.current.getStore();
        if (context) context.recorder = recorder;
        this.emit((l) => l.drillStarted?.(this.journal, drill));
        return recorder;
      },
      end: (drill) => {
        const most = this.running.get(drill) ?? 1;
        this.running.delete(drill);
        if (most > 1) drill.concurrency = most;
        if (projection && drill.name === projection.members.at(-1) && !this.stopped) this.project(drill, projection, spec.targets.rto);
        this.emit((l) => l.drillEnded?.(this.journal, drill));
      },
    };
  }

  /** The last drill of a group run at several sizes carries the group's RTO projection, and its verdict counts it. */
  private project(last: DrillJournal, group: ProjectionGroup, targetMs: number): void {
    const members = group.members.map((name) => this.journal.drills.find((d) => d.name === name));
    const points: SizedRto[] = [];
    const missing: string[] = [];
    for (const [i, member] of members.entries()) {
      const rtoMs = member?.rto?.measuredMs;
      const sizeBytes = member?.dataset?.sizeBytes;
      if (member && rtoMs !== undefined && sizeBytes !== undefined) points.push({ drill: member.name, sizeBytes, rtoMs });
      else missing.push(group.members[i]!);
    }
    const { record, check } = projectionOf(points, missing, targetMs, group.productionSizeBytes);
    last.projection = record;
    if (!check) return;
    last.checks.push(check);
    last.verdict = drillVerdict(last.status, last.checks);
  }

  /** One engine per kind, binaries and image for the whole run, made when a drill first needs it. */
  private engine(choice: EngineChoice): Promise<Engine> {
    const key = JSON.stringify(choice);
    let engine = this.engines.get(key);
    if (!engine) {
      engine = createEngine(choice, { runId: this.journal.runId, record: (command: CommandRecord) => this.current.getStore()?.recorder?.record(command) });
      this.engines.set(key, engine);
    }
    return engine;
  }
}
