/**
 * The restored database against the rows its dump holds (backup/dump-rows.ts):
 * every table the dump has data for must hold exactly as many rows. The
 * check for a backup made elsewhere, which has no seeded baseline.
 */
import type pg from 'pg';
import { errorMessage } from '../errors.js';
import type { CheckResult } from '../model/verdict.js';

/** A table name as pg_dump writes it on a COPY line, safe to put back into SQL as it is. */
const DUMPED_NAME = /^(?:[a-z_][a-z0-9_$]*|"[^"]+")\.(?:[a-z_][a-z0-9_$]*|"[^"]+")$/;

export async function judgeDumpRows(connect: () => Promise<pg.Client>, database: string, dumped: Map<string, number> | { error: string }): Promise<CheckResult> {
  const name = 'dump-row-counts';
  if ('error' in dumped) return { name, verdict: 'unknown', summary: `the dump's rows could not be counted: ${dumped.error}`, evidence: {} };
  if (dumped.size === 0) return { name, verdict: 'unknown', summary: 'the dump holds no COPY data to count (a plain dump made with --inserts, or no data at all): row counts unknown', evidence: {} };
  const differences: string[] = [];
  const unread: string[] = [];
  const restored: Record<string, number | null> = {};
  let client: pg.Client;
  try {
    client = await connect();
  } catch (error) {
    return { name, verdict: 'fail', summary: `the restored database ${database} cannot be reached: ${errorMessage(error)}`, evidence: {} };
  }
  try {
    for (const [table, rows] of dumped) {
      if (!DUMPED_NAME.test(table)) {
        unread.push(`${table} (a name this check does not read)`);
        restored[table] = null;
        continue;
      }
      try {
        const count = Number((await client.query<{ n: string }>(`select count(*) as n from only ${table}`)).rows[0]!.n);
        restored[table] = count;
        if (count !== rows) differences.push(`${table} ${count} rows, the dump ${rows}`);
      } catch (error) {
        restored[table] = null;
        differences.push(`${table}: ${errorMessage(error)}`);
      }
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  const evidence = { dump: Object.fromEntries(dumped), restored };
  const total = [...dumped.values()].reduce((a, b) => a + b, 0);
  if (differences.length) return { name, verdict: 'fail', summary: `differs from its dump: ${differences.join('; ')}`, evidence };
  if (unread.length) return { name, verdict: 'unknown', summary: `could not compare ${unread.join(', ')}; the other tables match their dump`, evidence };
  return { name, verdict: 'pass', summary: `every table holds the rows its dump holds: ${dumped.size} tables, ${total} rows`, evidence };
}
