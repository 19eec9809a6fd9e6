/**
 * Takes a snapshot of what a database holds (model/snapshot.ts): once at the
 * backup, once after recovery; the content checks compare the two.
 */
import type pg from 'pg';
import { TIME_COLUMNS } from '../dataset/schema.js';
import { errorMessage } from '../errors.js';
import type { DatabaseState, SequenceState, TableState } from '../model/snapshot.js';
import { quoteIdent } from '../pg/client.js';

async function tableState(client: pg.Client, table: string): Promise<TableState> {
  const timeColumn = TIME_COLUMNS[table];
  const latest = timeColumn ? `, max(t.${quoteIdent(timeColumn)})::text as latest` : '';
  const { rows } = await client.query<{ rows: string; fingerprint: string | null; latest?: string | null }>(
    `select count(*) as rows, coalesce(sum(hashtextextended(t::text, 0)), 0)::text as fingerprint${latest}
       from ${quoteIdent(table)} t`,
  );
  const row = rows[0]!;
  return { rows: Number(row.rows), fingerprint: row.fingerprint ?? '0', ...(timeColumn ? { latest: row.latest ?? null } : {}) };
}

async function objects(client: pg.Client): Promise<DatabaseState['objects']> {
  const tables = await client.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1`,
  );
  const indexes = await client.query<{ name: string }>(
    `select tablename || '.' || indexname as name from pg_indexes where schemaname = 'public' order by 1`,
  );
  const constraints = await client.query<{ name: string }>(
    `select conrelid::regclass::text || '.' || conname || ' (' || contype::text || ')' as name
       from pg_constraint where connamespace = 'public'::regnamespace and conrelid <> 0 order by 1`,
  );
  const owned = await client.query<{ seq: string; tab: string; col: string }>(
    `select s.relname as seq, t.relname as tab, a.attname as col
       from pg_class s
       join pg_namespace n on n.oid = s.relnamespace and n.nspname = 'public'
       join pg_depend d on d.objid = s.oid and d.classid = 'pg_class'::regclass
                       and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')
       join pg_class t on t.oid = d.refobjid
       join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
      where s.relkind = 'S' order by 1`,
  );
  const sequences: Record<string, SequenceState> = {};
  for (const { seq, tab, col } of owned.rows) {
    const { rows } = await client.query<{ last_value: string; max: string | null }>(
      `select (select last_value from ${quoteIdent(seq)}) as last_value,
              (select max(${quoteIdent(col)}) from ${quoteIdent(tab)})::text as max`,
    );
    sequences[seq] = {
      table: tab,
      column: col,
      lastValue: Number(rows[0]!.last_value),
      maxValue: rows[0]!.max === null ? null : Number(rows[0]!.max),
    };
  }
  return {
    tables: tables.rows.map((r) => r.name),
    indexes: indexes.rows.map((r) => r.name),
    constraints: constraints.rows.map((r) => r.name),
    sequences,
  };
}

/**
 * Never throws: a database that cannot be reached, or a table that cannot be
 * read, is recorded as such so the checks can name what is missing.
 */
export async function captureState(
  connect: (database: string) => Promise<pg.Client>,
  database: string,
  tables: readonly string[],
  label: string,
): Promise<DatabaseState> {
  const empty: DatabaseState['objects'] = { tables: [], indexes: [], constraints: [], sequences: {} };
  let client: pg.Client;
  try {
    client = await connect(database);
  } catch (error) {
    return { database, label, unreachable: errorMessage(error), tables: {}, objects: empty };
  }
  try {
    const state: DatabaseState = { database, label, tables: {}, objects: await objects(client) };
    for (const table of tables) {
      try {
        state.tables[table] = await tableState(client, table);
      } catch (error) {
        state.tables[table] = { error: errorMessage(error) };
      }
    }
    return state;
  } catch (error) {
    return { database, label, unreachable: errorMessage(error), tables: {}, objects: empty };
  } finally {
    await client.end().catch(() => undefined);
  }
}
