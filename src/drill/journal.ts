/**
 * The journal is the product; reports are views of it. Everything a run did
 * lands here: phases with their commands, the backup, the fault, the checks
 * and the measurements. It is written to disk as the run goes.
 */
import type { CommandRecord } from '../exec/command.js';
import type { Verdict } from '../checks/verdict.js';

/** What happened to a run or drill, apart from whether its checks passed. */
export type RunStatus = 'running' | 'completed' | 'failed' | 'aborted' | 'interrupted' | 'unsupported';

export interface PhaseJournal {
  name: string;
  status: 'running' | 'ok' | 'failed' | 'skipped';
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  error?: string;
  /** What the phase found or made, for the report. */
  detail?: Record<string, unknown>;
  commands: CommandRecord[];
}

export interface CheckResult {
  name: string;
  verdict: Verdict;
  /** One line a person reads first. */
  summary: string;
  /** What was compared: expected and found, per table where it applies. */
  evidence: Record<string, unknown>;
}

export interface Measurement {
  targetMs: number;
  measuredMs?: number;
}

export interface RpoMeasurement extends Measurement {
  /** Ledger rows committed before the fault and missing after recovery. */
  lostRows?: number;
  committedRows?: number;
  recoveredRows?: number;
  /** Rows present that the workload never saw acknowledged. */
  unexpectedRows?: number;
  /** With a recovery target: rows written after it, and how many of them wrongly came back. */
  afterTargetRows?: number;
  pastTargetRows?: number;
}

export interface DrillJournal {
  name: string;
  file: string;
  description?: string;
  status: RunStatus;
  verdict?: Verdict;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  engine?: Record<string, unknown>;
  dataset?: Record<string, unknown>;
  backup?: Record<string, unknown>;
  /** Every generation taken, oldest first, when there were several. */
  backups?: Array<Record<string, unknown>>;
  fault?: Record<string, unknown>;
  recovery?: Record<string, unknown>;
  phases: PhaseJournal[];
  checks: CheckResult[];
  rto?: Measurement;
  rpo?: RpoMeasurement;
  error?: string;
  /** Things a person must know although no check failed, e.g. a tool of another major version than the server. */
  warnings?: string[];
  /** The stable code of the error that stopped the drill, when it had one. */
  errorCode?: string;
  /** ERROR/FATAL/PANIC lines the servers logged after recovery ended. */
  logErrors?: string[];
  /** Where the throwaway instance's files were kept, when they were. */
  keptFiles?: string[];
}

export interface RunJournal {
  tool: 'restore-drill';
  version: string;
  runId: string;
  status: RunStatus;
  startedAt: string;
  endedAt?: string;
  host: { hostname: string; platform: string; node: string; pid: number };
  options: Record<string, unknown>;
  /** Why the run stopped before its drills, when it did. */
  error?: string;
  /** Each drill's earlier runs, newest last (from the history file), for the report's trends. */
  recentRuns?: Record<string, Array<{ runId: string; startedAt: string; verdict?: string; rtoMs?: number; rpoMs?: number; lostRows?: number }>>;
  drills: DrillJournal[];
}
