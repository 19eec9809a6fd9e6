/**
 * Status is not verdict: each check says pass, fail or unknown, and they
 * combine as fail > unknown > pass (a crashed check is unknown, never pass).
 * Verdicts are made in checks/ only; everything else reports what it saw.
 */
import { z } from 'zod';

export const VERDICTS = ['pass', 'fail', 'unknown'] as const;
export type Verdict = (typeof VERDICTS)[number];

export const checkResultSchema = z.strictObject({
  name: z.string(),
  verdict: z.enum(VERDICTS),
  /** One line a person reads first. */
  summary: z.string(),
  /** What was compared: expected and found, per table where it applies. */
  evidence: z.record(z.string(), z.unknown()),
});
export type CheckResult = z.output<typeof checkResultSchema>;

const RANK: Record<Verdict, number> = { pass: 0, unknown: 1, fail: 2 };

export function combine(verdicts: readonly Verdict[]): Verdict {
  if (verdicts.length === 0) return 'unknown';
  return verdicts.reduce((worst, v) => (RANK[v] > RANK[worst] ? v : worst), 'pass' as Verdict);
}
