/**
 * The team's own checks, as their runbooks end: validation queries ("trades
 * without an order", "hours without candles", "newest row within the
 * backup's window") with an expectation each, and smoke-test commands whose
 * exit code is the verdict. Here: what a drill file may say, and how what was
 * seen is judged. Running them is the drill's (drill/team-checks.ts).
 */
import { z } from 'zod';
import type { CheckResult } from '../model/verdict.js';
import { duration } from '../support/fields.js';

const checkName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected lower-case letters, digits and dashes, e.g. trades-without-an-order');

const expectation = z.union(
  [
    z.strictObject({ equals: z.union([z.number(), z.string()]) }),
    z.strictObject({ atMost: z.number() }),
    z.strictObject({ atLeast: z.number() }),
    z.strictObject({ between: z.tuple([z.number(), z.number()]) }),
    z.strictObject({ sameAsBackup: z.literal(true) }),
  ],
  { error: () => 'expected one of { equals: V }, { atMost: N }, { atLeast: N }, { between: [LOW, HIGH] }, { sameAsBackup: true }' },
);
type Expectation = z.output<typeof expectation>;

export const querySchema = z
  .strictObject({
    name: checkName,
    sql: z.string().min(1).describe('One read-only statement; the first column of its first row is the value.'),
    expect: expectation.describe(
      'equals, atMost, atLeast, between, or sameAsBackup: the same query\'s value at the backup (only tables the workload does not write stay still: candles, symbols, positions; for a backup made elsewhere, the value `restore-drill fingerprint --drill FILE` recorded in its sidecar).',
    ),
  })
  .describe('A validation query run on the recovered database, read-only, after the built-in checks.');
export type QuerySpec = z.output<typeof querySchema>;

export const commandSchema = z
  .strictObject({
    name: checkName,
    run: z.string().min(1).describe('The team\'s smoke test, relative to the drill file; it gets PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE of the recovered database.'),
    args: z.array(z.string()).default([]),
    timeout: duration.prefault('5m').describe('Killed, with everything it started, after this long: a FAIL.'),
  })
  .describe('A smoke test run against the recovered database: exit code 0 passes.');
export type CommandSpec = z.output<typeof commandSchema>;

/** A query's value: the first column of the first row, as text (null when there is no row or it is NULL). */
export type QueryValue = string | null;

/** A validation query may read for this long before it is cancelled (and fails), on the recovered database and at the backup. */
export const QUERY_TIMEOUT = '5min';

/** The value of a query run with `rowMode: 'array'`: its first row's first column, as text. */
export function firstValue(rows: readonly unknown[]): QueryValue {
  const first = (rows[0] as unknown[] | undefined)?.[0];
  return first === null || first === undefined ? null : String(first instanceof Date ? first.toISOString() : first);
}

function describe(expect: Expectation): string {
  if ('equals' in expect) return `= ${expect.equals}`;
  if ('atMost' in expect) return `≤ ${expect.atMost}`;
  if ('atLeast' in expect) return `≥ ${expect.atLeast}`;
  if ('between' in expect) return `between ${expect.between[0]} and ${expect.between[1]}`;
  return 'the same as at the backup';
}

function holds(expect: Expectation, value: QueryValue, atBackup: QueryValue | undefined): boolean {
  if ('sameAsBackup' in expect) return value === atBackup;
  if ('equals' in expect) return value !== null && (typeof expect.equals === 'number' ? Number(value) === expect.equals : value === expect.equals);
  const number = value === null ? Number.NaN : Number(value);
  if (Number.isNaN(number)) return false;
  if ('atMost' in expect) return number <= expect.atMost;
  if ('atLeast' in expect) return number >= expect.atLeast;
  return number >= expect.between[0] && number <= expect.between[1];
}

/** A query that could not run on the recovered database fails: the data a team's runbook queries is not there to query. */
export function judgeQuery(query: QuerySpec, seen: { value: QueryValue } | { error: string }, atBackup?: { value: QueryValue } | { error: string }): CheckResult {
  const name = `sql ${query.name}`;
  const evidence: Record<string, unknown> = { sql: query.sql, expected: query.expect };
  if ('sameAsBackup' in query.expect && (!atBackup || 'error' in atBackup)) {
    // Without a value at the backup there is nothing to compare with: unknown, not a pass and not the restore's fault.
    return { name, verdict: 'unknown', summary: `no value at the backup to compare with${atBackup && 'error' in atBackup ? `: ${atBackup.error}` : ''}`, evidence };
  }
  const expected = 'sameAsBackup' in query.expect ? `${describe(query.expect)} (${(atBackup as { value: QueryValue }).value ?? 'NULL'})` : describe(query.expect);
  if ('error' in seen) return { name, verdict: 'fail', summary: `the query failed on the recovered database: ${seen.error}`, evidence: { ...evidence, error: seen.error } };
  const atBackupValue = atBackup && 'value' in atBackup ? atBackup.value : undefined;
  const ok = holds(query.expect, seen.value, atBackupValue);
  return {
    name,
    verdict: ok ? 'pass' : 'fail',
    summary: `${seen.value ?? 'NULL'}, expected ${expected}`,
    evidence: { ...evidence, value: seen.value, ...(atBackupValue === undefined ? {} : { atBackup: atBackupValue }) },
  };
}

export function judgeCommand(command: CommandSpec, result: { exitCode: number | null; timedOut: boolean; output: string }): CheckResult {
  const name = `command ${command.name}`;
  const evidence = { run: command.run, args: command.args, exitCode: result.exitCode, timedOut: result.timedOut, output: result.output };
  if (result.timedOut) return { name, verdict: 'fail', summary: `did not finish within its timeout and was killed${result.output ? `; last words: ${result.output.split('\n').at(-1)}` : ''}`, evidence };
  if (result.exitCode === 0) return { name, verdict: 'pass', summary: `exited 0${result.output ? `: ${result.output.split('\n').at(-1)}` : ''}`, evidence };
  return { name, verdict: 'fail', summary: `exited with code ${result.exitCode ?? 'none'}${result.output ? `: ${result.output.split('\n').at(-1)}` : ''}`, evidence };
}
