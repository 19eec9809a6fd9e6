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
  commandRan(drill: DrillJournal, command: CommandRecord): void;
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

  async run<T>(name: PhaseName, work: (phase: PhaseJournal) => Promise<T>): Promise<T> {
    const phase: PhaseJournal = { name, status: 'running', startedAt: new Date().toISOString(), commands: [] };
    this.drill.phases.push(phase);
    this.current = phase;
    this.host.phaseStarted(this.drill, phase);
    const started = performance.now();
    try {
      const result = await work(phase);
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
      this.current = undefined;
      if (!this.host.interrupted()) {
        phase.endedAt = new Date().toISOString();
        phase.durationMs = performance.now() - started;
        this.host.phaseEnded(this.drill, phase);
      }
    }
  }
}
