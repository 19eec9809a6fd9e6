/**
 * The outcome rules, in one place: what a drill's status is after it stopped,
 * what its verdict is, what "passed" means, and the exit code of a run. Pure
 * functions of the facts, so every view (CLI, report, JUnit, metrics,
 * history) agrees, and each rule is tested in milliseconds.
 */
import { ERROR_CODES, EXIT, type ErrorCode } from '../errors.js';
import type { DrillJournal, RunJournal, RunStatus } from './journal.js';
import { combine, type Verdict } from './verdict.js';

/**
 * Passed means the drill ran to the end and every check passed. A drill that
 * broke after its fault can carry a `pass` verdict from the few checks that
 * ran; that proves nothing, so every view uses this.
 */
export function passed(drill: { status: RunStatus; verdict?: Verdict }): boolean {
  return drill.status === 'completed' && drill.verdict === 'pass';
}

/** The status of a drill that went through verification: a recovery that failed fails the drill whatever its data looks like. */
export function statusAfterVerify(recoveryFailed: boolean): RunStatus {
  return recoveryFailed ? 'failed' : 'completed';
}

/**
 * The status of a drill that stopped on an error: unsupported when the engine
 * cannot do what it needs; failed once the fault struck or a check was
 * recorded (what happened is a finding); aborted before that (nothing judged).
 */
export function statusAfterError(facts: { unsupported: boolean; faultStruck: boolean; checksRecorded: number }): RunStatus {
  if (facts.unsupported) return 'unsupported';
  return facts.faultStruck || facts.checksRecorded > 0 ? 'failed' : 'aborted';
}

/** A drill's verdict: its checks combined, once it completed or failed; otherwise nothing was judged. */
export function drillVerdict(status: RunStatus, checks: readonly { verdict: Verdict }[]): Verdict {
  return status === 'completed' || status === 'failed' ? combine(checks.map((c) => c.verdict)) : 'unknown';
}

/** The run's verdict: pass only when every drill passed; fail when one failed; unknown otherwise. */
export function runVerdict(drills: readonly DrillJournal[]): Verdict {
  if (drills.length > 0 && drills.every(passed)) return 'pass';
  return drills.some((d) => d.verdict === 'fail') ? 'fail' : 'unknown';
}

function isErrorCode(code: string | undefined): code is ErrorCode {
  return code !== undefined && code in ERROR_CODES;
}

/**
 * The exit code of a finished run: 130 when interrupted, 3 when the harness
 * itself broke, 2 when a drill could not start for a reason of setup (nothing
 * was judged), 0 when every drill passed, 1 otherwise.
 */
export function runExitCode(journal: Pick<RunJournal, 'status' | 'drills'>): number {
  if (journal.status === 'interrupted') return EXIT.interrupted;
  if (journal.status === 'aborted') return EXIT.internal;
  const setupFailure = journal.drills.some(
    (d) => d.status === 'aborted' && isErrorCode(d.errorCode) && ERROR_CODES[d.errorCode].exit === EXIT.input,
  );
  if (setupFailure) return EXIT.input;
  return journal.drills.length > 0 && journal.drills.every(passed) ? EXIT.pass : EXIT.fail;
}
