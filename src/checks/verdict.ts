/**
 * Status is not verdict: each check says pass, fail or unknown, and they
 * combine as fail > unknown > pass (a crashed check is unknown, never pass).
 */
export type Verdict = 'pass' | 'fail' | 'unknown';

const RANK: Record<Verdict, number> = { pass: 0, unknown: 1, fail: 2 };

export function combine(verdicts: readonly Verdict[]): Verdict {
  if (verdicts.length === 0) return 'unknown';
  return verdicts.reduce((worst, v) => (RANK[v] > RANK[worst] ? v : worst), 'pass' as Verdict);
}
