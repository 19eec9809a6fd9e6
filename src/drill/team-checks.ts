/**
 * Runs the team's own checks of a drill file: its validation queries (parsed
 * by the server right after the seed, so a typo is an input error before any
 * backup; run read-only on the recovered database) and its smoke-test
 * commands (run against the recovered database, their output redacted).
 * How what they returned is judged is in checks/team.ts.
 */
import type pg from 'pg';
import { firstValue, QUERY_TIMEOUT, type CommandSpec, type QuerySpec, type QueryValue } from '../checks/team.js';
import type { Instance } from '../engines/types.js';
import { errorMessage } from '../errors.js';
import { environmentSecrets, redact, tail } from '../exec/command.js';

/** Each query the server cannot plan, as `queries[i].sql: <why>`; nothing is run. */
export async function unplannable(client: pg.Client, queries: readonly QuerySpec[]): Promise<string[]> {
  const problems: string[] = [];
  for (const [i, query] of queries.entries()) {
    try {
      await client.query(`explain ${query.sql}`);
    } catch (error) {
      problems.push(`queries[${i}].sql: ${errorMessage(error)} (the server could not plan it on the seeded database)`);
    }
  }
  return problems;
}

/** Runs each query read-only; a query that fails gives its error, not a value. */
export async function runQueries(connect: () => Promise<pg.Client>, queries: readonly QuerySpec[]): Promise<Map<string, { value: QueryValue } | { error: string }>> {
  const seen = new Map<string, { value: QueryValue } | { error: string }>();
  if (queries.length === 0) return seen;
  let client: pg.Client;
  try {
    client = await connect();
  } catch (error) {
    for (const query of queries) seen.set(query.name, { error: `cannot connect: ${errorMessage(error)}` });
    return seen;
  }
  try {
    for (const query of queries) {
      try {
        await client.query('begin read only');
        await client.query(`set local statement_timeout = '${QUERY_TIMEOUT}'`);
        const result = await client.query({ text: query.sql, rowMode: 'array' });
        seen.set(query.name, { value: firstValue(result.rows) });
      } catch (error) {
        seen.set(query.name, { error: errorMessage(error) });
      } finally {
        await client.query('rollback').catch(() => undefined);
      }
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  return seen;
}

/** Runs each smoke test against the recovered database (its connection in `env`), in its own process group, within its timeout. */
export async function runCommands(
  instance: Instance,
  commands: readonly CommandSpec[],
  env: Record<string, string>,
): Promise<Map<string, { exitCode: number | null; timedOut: boolean; output: string }>> {
  const results = new Map<string, { exitCode: number | null; timedOut: boolean; output: string }>();
  for (const command of commands) {
    const result = await instance.runOnHost(command.run, command.args, { env, timeoutMs: command.timeout, allowFailure: true, detached: true });
    const output = redact(tail(`${result.stdout}\n${result.stderr}`, 10).trim(), [instance.connection.password, ...environmentSecrets()]);
    results.set(command.name, { exitCode: result.exitCode, timedOut: result.timedOut, output });
  }
  return results;
}
