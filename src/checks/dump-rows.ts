/**
 * The restored database against the rows its dump holds (backup/dump-rows.ts):
 * every table the dump has data for must hold exactly as many rows. The
 * check for a backup made elsewhere, which has no seeded baseline.
 */
import type pg from 'pg';
import { errorMessage } from '../errors.js';
import type { CheckResult } from '../model/verdict.js';

/**
 * TimescaleDB's own catalog: timescaledb_post_restore() and ALTER EXTENSION
 * timescaledb UPDATE rewrite it (jobs added, tables renamed or dropped), so
 * its rows are not the dump's by design. What it describes is checked
 * through the chunks' rows here and the source fingerprint.
 */
const TIMESCALE_CATALOG = /^_timescaledb_(catalog|config)\./;

/**
 * An extension's configuration tables (pg_extension_config_dump): pg_dump
 * writes only the rows its condition selects (PostGIS's spatial_ref_sys: the
 * ones the team added), and CREATE EXTENSION puts the others back. Counted
 * with the same condition, as pg_dump selects them, by table as a COPY line
 * names it.
 */
const EXTENSION_CONFIG_SQL = `
select format('%I.%I', n.nspname, c.relname) as name, coalesce(config.condition, '') as condition, e.extname as extension
  from pg_extension e
 cross join lateral unnest(e.extconfig, e.extcondition) as config(oid, condition)
  join pg_class c on c.oid = config.oid and c.relkind in ('r', 'p')
  join pg_namespace n on n.oid = c.relnamespace`;

/** A table name as pg_dump writes it on a COPY line, safe to put back into SQL as it is. */
const DUMPED_NAME = /^(?:[a-z_][a-z0-9_$]*|"[^"]+")\.(?:[a-z_][a-z0-9_$]*|"[^"]+")$/;

export async function judgeDumpRows(connect: () => Promise<pg.Client>, database: string, dumped: Map<string, number> | { error: string }): Promise<CheckResult> {
  const name = 'dump-row-counts';
  if ('error' in dumped) return { name, verdict: 'unknown', summary: `the dump's rows could not be counted: ${dumped.error}`, evidence: {} };
  if (dumped.size === 0) return { name, verdict: 'unknown', summary: 'the dump holds no COPY data to count (a plain dump made with --inserts, or no data at all): row counts unknown', evidence: {} };
  const differences: string[] = [];
  const unread: string[] = [];
  const leftToTimescale: string[] = [];
  const restored: Record<string, number | null> = {};
  const configTables: Record<string, { extension: string; condition: string }> = {};
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
    for (const row of (await client.query<{ name: string; condition: string; extension: string }>(EXTENSION_CONFIG_SQL)).rows) {
      configTables[row.name] = { extension: row.extension, condition: row.condition };
    }
    for (const [table, rows] of dumped) {
      if (TIMESCALE_CATALOG.test(table)) {
        leftToTimescale.push(table);
        continue;
      }
      if (!DUMPED_NAME.test(table)) {
        unread.push(`${table} (a name this check does not read)`);
        restored[table] = null;
        continue;
      }
      try {
        // The condition is the extension's own SQL, as pg_dump itself appends it to its COPY.
        const condition = configTables[table]?.condition ?? '';
        const count = Number((await client.query<{ n: string }>(`select count(*) as n from only ${table} ${condition}`)).rows[0]!.n);
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
  const counted = Object.fromEntries(Object.entries(configTables).filter(([table]) => dumped.has(table) && !TIMESCALE_CATALOG.test(table)));
  const evidence = { dump: Object.fromEntries(dumped), restored, ...(leftToTimescale.length ? { leftToTimescale } : {}), ...(Object.keys(counted).length ? { extensionConfiguration: counted } : {}) };
  const compared = [...dumped.keys()].filter((table) => !leftToTimescale.includes(table));
  const total = compared.reduce((sum, table) => sum + dumped.get(table)!, 0);
  const notes =
    (Object.keys(counted).length
      ? `; ${Object.entries(counted)
          .map(([table, c]) => `${table} (${c.extension}'s configuration) counted as pg_dump selects its rows${c.condition ? ` (${c.condition})` : ''}`)
          .join(', ')}`
      : '') + (leftToTimescale.length ? `; TimescaleDB's own catalog (${leftToTimescale.length} tables) not compared, as the extension rewrites it` : '');
  if (differences.length) return { name, verdict: 'fail', summary: `differs from its dump: ${differences.join('; ')}`, evidence };
  if (unread.length) return { name, verdict: 'unknown', summary: `could not compare ${unread.join(', ')}; the other tables match their dump${notes}`, evidence };
  return { name, verdict: 'pass', summary: `every table holds the rows its dump holds: ${compared.length} tables, ${total} rows${notes}`, evidence };
}
