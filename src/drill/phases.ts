/**
 * The phase recorder: each phase of a drill lands in the journal with its
 * start, end, duration, status and error, and every command run while it
 * lasts is filed under it. Listeners hear of each step.
 */
import { errorMessage } from '../errors.js';
import type { CommandRecord, DrillJournal, PhaseJournal, PhaseName } from '../model/journal.js';

/** What the recorder needs of the run it belongs to. */
export interface PhaseHost {
  /** After Ctrl-C nothing more is recorded: the journal already says the run was interrupted. */
  interrupted(): boolean;
  phaseStarted(drill: DrillJournal, phase: PhaseJournal): void;
  phaseEnded(drill: DrillJournal, phase: PhaseJournal): void;
  phaseProgress(drill: DrillJournal, phase: PhaseJournal, elapsedMs: number, note: string | undefined): void;
  commandRan(drill: DrillJournal, command: CommandRecord): void;
}

/** How often a running phase says it is still running: a long seed or dump must not look like a hang. */
const HEARTBEAT_MS = 5000;

/** What a phase's work tells the heartbeat: the latest step it reported, or a figure read at each beat. */
export class PhaseProgress {
  private note?: string;
  private probe?: () => Promise<string>;

  /** The step the work is on now ("copying 40000 rows into candles"). */
  report(note: string): void {
    this.note = note;
  }

  /** A figure read at each heartbeat (the bytes a backup has written so far). */
  watch(probe: () => Promise<string>): void {
    this.probe = probe;
  }

  async read(): Promise<string | undefined> {
    if (!this.probe) return this.note;
    // A figure that cannot be read now costs a progress line its detail, never the phase.
    return this.probe().catch(() => this.note);
  }
}

export class PhaseRecorder {
  private current?: PhaseJournal;

  constructor(
    private readonly host: PhaseHost,
    readonly drill: DrillJournal,
  ) {}

  /** Files a command under the phase running now (commands between phases belong to none). */
  record(command: CommandRecord): void {
    if (this.host.interrupted() || !this.current) return;
    this.current.commands.push(command);
    this.host.commandRan(this.drill, command);
  }

  async run<T>(name: PhaseName, work: (phase: PhaseJournal, progress: PhaseProgress) => Promise<T>): Promise<T> {
    const phase: PhaseJournal = { name, status: 'running', startedAt: new Date().toISOString(), commands: [] };
    this.drill.phases.push(phase);
    this.current = phase;
    this.host.phaseStarted(this.drill, phase);
    const started = performance.now();
    const progress = new PhaseProgress();
    const heartbeat = setInterval(() => {
      void progress.read().then((note) => {
        if (phase.status === 'running' && !this.host.interrupted()) this.host.phaseProgress(this.drill, phase, performance.now() - started, note);
      });
    }, HEARTBEAT_MS);
    try {
      const result = await work(phase, progress);
      phase.status = 'ok';
      return result;
    } catch (error) {
      // After Ctrl-C the cleanup breaks connections under running phases; the journal already says why.
      if (!this.host.interrupted()) {
        phase.status = 'failed';
        phase.error = errorMessage(error);
      }
      throw error;
    } finally {
      clearInterval(heartbeat);
      this.current = undefined;
      if (!this.host.interrupted()) {
        phase.endedAt = new Date().toISOString();
        phase.durationMs = performance.now() - started;
        this.host.phaseEnded(this.drill, phase);
      }
    }
  }
}
