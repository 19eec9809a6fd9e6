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
    // TimescaleDB reads a hypertable through its chunks and a compressed chunk decompressed, while the dump holds
    // each table's own rows: in restore mode, in this session only, it does neither.
    const timescale = (await client.query("select 1 from pg_extension where extname = 'timescaledb'")).rowCount;
    if (timescale) await client.query('set timescaledb.restoring = on');
    // An extension's configuration table is dumped through its pg_extension_config_dump() filter: counted through it too.
    const filters = new Map(
      (
        await client.query<{ table: string; filter: string }>(
          `select format('%I.%I', n.nspname, c.relname) as table, x.filter
             from pg_extension e, unnest(e.extconfig, e.extcondition) as x(oid, filter)
             join pg_class c on c.oid = x.oid join pg_namespace n on n.oid = c.relnamespace`,
        )
      ).rows.map((r) => [r.table, r.filter]),
    );
    for (const [table, rows] of dumped) {
      if (!DUMPED_NAME.test(table)) {
        unread.push(`${table} (a name this check does not read)`);
        restored[table] = null;
        continue;
      }
      try {
        const count = Number((await client.query<{ n: string }>(`select count(*) as n from only ${table} ${filters.get(table) ?? ''}`)).rows[0]!.n);
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
