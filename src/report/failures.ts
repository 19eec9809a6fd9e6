/**
 * What did not pass, drill by drill, in the words every view leads with: the
 * report's first screen, the CI job summary, JUnit and the console's last
 * line all name the same drills, checks and reason.
 */
import type { DrillJournal, RunJournal } from '../model/journal.js';
import { passed } from '../model/outcome.js';
import type { Verdict } from '../model/verdict.js';
import { oneLine } from './text.js';

export interface NotPassed {
  drill: string;
  verdict: Verdict;
  /** How the drill ended: failed (its checks found something), or why nothing was judged (aborted, unsupported, ...). */
  outcome: string;
  /** The checks that failed (or, with no failure, could not decide), in the order they ran. */
  checks: string[];
  /** One line: the first of those checks' summary, or the error that stopped the drill. */
  reason: string;
}

/** The drill's failing checks; with none, the checks that could not decide. */
function culprits(drill: DrillJournal): DrillJournal['checks'] {
  const failed = drill.checks.filter((c) => c.verdict === 'fail');
  return failed.length ? failed : drill.checks.filter((c) => c.verdict === 'unknown');
}

export function whyNotPassed(drill: DrillJournal): NotPassed {
  const checks = culprits(drill);
  const verdict = drill.verdict ?? 'unknown';
  const outcome = verdict === 'fail' ? 'failed' : drill.status === 'completed' ? 'could not decide' : drill.status;
  // A drill stopped by an error says so first: its checks (if any) ran before it stopped.
  const reason = drill.error && verdict !== 'fail' ? drill.error : (checks[0]?.summary ?? drill.error ?? `drill ${drill.status}, no check ran`);
  return { drill: drill.name, verdict, outcome, checks: checks.map((c) => c.name), reason: oneLine(reason) };
}

/** Every drill that did not pass, in run order. */
export function notPassed(run: Pick<RunJournal, 'drills'>): NotPassed[] {
  return run.drills.filter((d) => !passed(d)).map(whyNotPassed);
}
