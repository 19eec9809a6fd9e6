/**
 * Progress is a subscriber: the console, the journal file and anything else
 * listen to the same runner events.
 */
import type { CommandRecord, DrillJournal, PhaseJournal, RunJournal } from '../model/journal.js';

export interface RunListener {
  runStarted?(run: RunJournal): void;
  drillStarted?(run: RunJournal, drill: DrillJournal): void;
  phaseStarted?(run: RunJournal, drill: DrillJournal, phase: PhaseJournal): void;
  phaseEnded?(run: RunJournal, drill: DrillJournal, phase: PhaseJournal): void;
  /** Every few seconds while a phase runs: how long so far, and what it is doing when it can tell. */
  phaseProgress?(run: RunJournal, drill: DrillJournal, phase: PhaseJournal, elapsedMs: number, note: string | undefined): void;
  commandRan?(run: RunJournal, drill: DrillJournal, command: CommandRecord): void;
  drillEnded?(run: RunJournal, drill: DrillJournal): void;
  runEnded?(run: RunJournal): void;
}
