/**
 * Takes a snapshot of what a database holds (model/snapshot.ts): once at the
 * backup, once after recovery; the content checks compare the two.
 */
import type pg from 'pg';
import { TIME_COLUMNS } from '../dataset/schema.js';
import { errorMessage } from '../errors.js';
import type { DatabaseState, SequenceState, TableState } from '../model/snapshot.js';
import { quoteIdent } from '../pg/client.js';
import { installedVersion, timescaleState } from '../pg/timescaledb.js';

/**
 * The team's own schemas: every schema but the system's and TimescaleDB's
 * internal ones (whose state the timescaledb check reads). Objects are named
 * as in the public schema (`candles`) or qualified (`audit.events`), so a
 * database made elsewhere is compared in every schema it has, not only public.
 */
const USER_SCHEMA = (namespace: string) =>
  `(${namespace} not in ('pg_catalog', 'information_schema') and ${namespace} !~ '^(pg_|_timescaledb|timescaledb_)')`;
const KEY = (namespace: string, name: string) => `case when ${namespace} = 'public' then ${name} else ${namespace} || '.' || ${name} end`;

/** The name the snapshot gives a table: `candles` for public.candles, `audit.events` for audit.events. */
export function stateKey(table: { schema: string; name: string }): string {
  return table.schema === 'public' ? table.name : `${table.schema}.${table.name}`;
}

/** A table or sequence by the name the snapshot gives it, as SQL: `candles` is public.candles, `audit.events` is audit.events. */
function relation(key: string): string {
  const dot = key.indexOf('.');
  return dot < 0 ? quoteIdent(key) : `${quoteIdent(key.slice(0, dot))}.${quoteIdent(key.slice(dot + 1))}`;
}

/** A table's seeded rows: those with a key up to `max` (what a workload writes later is counted by RPO instead). */
export type SeededRange = Record<string, { column: string; max: number }>;

/**
 * Each row's 64-bit hash, summed (so row order does not matter). A row is
 * hashed column by column with each type's own extended hash function, each
 * column's hash seeding the next, so a value moved to another row changes the
 * sum. A column that may hold NULL is hashed on its own (NULL as a mark: the
 * functions are strict) and mixed in with hashint8extended. This reads about
 * 1.25 times as many rows a second as hash_record_extended over the whole row
 * (which first copies every row into a record), and about 2 times as many as
 * hashing each row's text.
 *
 * Only PostgreSQL's own hash functions for a type of its own are called:
 * they all mix in their seed (numeric NaN and the infinities, float 0 and an
 * empty jsonb return it: those values hash alike, and the column adds
 * nothing, but nothing before it is lost). An extension's type (citext) may
 * hash values equal that differ, and a polymorphic hash (arrays, ranges)
 * returns a constant for an empty value, so those columns are hashed by
 * their text, as is a type with no extended hash function (json, point,
 * varchar through text's). A built-in typed hash calls equal what
 * PostgreSQL's equality calls equal (numeric 1.5 and 1.50, -0 and 0). The
 * whole row's text is hashed where a typed hash could call different rows
 * equal: a column with a nondeterministic (case- or accent-insensitive)
 * collation or a composite column (its fields' collations are not looked
 * at); and for a table too wide to nest one call per column.
 */
export const ROW_HASH = 'typed-chain/2';
const TEXT_HASH = (alias: string) => `pg_catalog.hashtextextended(row(${alias}.*)::text, 0)`;
/** What a NULL hashes as: any constant does, a value's hash meeting it is a 1 in 2^64 chance. */
const NULL_MARK = '7046029254386353131';
const WIDEST_CHAIN = 100;

interface ColumnHash {
  column: string;
  /** NOT NULL and validated (PostgreSQL 18 may mark a column NOT NULL NOT VALID over rows still NULL). */
  notNull: boolean;
  /** PostgreSQL's extended hash function for the column's type, or null: the column's text is hashed. */
  fn: string | null;
  /**
   * The type the function is called with (schema-qualified: `::character`
   * would cut a char(3) to one letter), or null where it is declared for
   * another (timestamptz's is timestamp's, which a cast would shift by the
   * time zone): the value is then hashed as a one-field record, which finds
   * the same function without a cast (PostgreSQL 14 and later, text before).
   */
  takes: string | null;
  recordHash: boolean;
  /** A composite or nondeterministically collated column: only the row's text is exact. */
  textOnly: boolean;
}

async function rowHash(client: pg.Client, table: string): Promise<(alias: string) => string> {
  const { rows } = await client.query<ColumnHash>(
    `select quote_ident(a.attname) as "column",
            a.attnotnull and not exists (
              select 1 from pg_constraint c
               where c.conrelid = a.attrelid and c.contype = 'n' and not c.convalidated and a.attnum = any(c.conkey)) as "notNull",
            (ty.typtype = 'c' or not coalesce(co.collisdeterministic, true)) as "textOnly",
            current_setting('server_version_num')::int >= 140000 as "recordHash",
            h.fn, h.takes
       from pg_attribute a
       join pg_type ty on ty.oid = a.atttypid
       left join pg_collation co on co.oid = a.attcollation
       left join lateral (
         select 'pg_catalog.' || quote_ident(p.proname) as fn,
                case when p.proargtypes[0] = oc.opcintype then quote_ident(tn.nspname) || '.' || quote_ident(it.typname) end as takes
           from pg_opclass oc
           join pg_am am on am.oid = oc.opcmethod and am.amname = 'hash'
           join pg_amproc ap on ap.amprocfamily = oc.opcfamily and ap.amprocnum = 2
                            and ap.amproclefttype = oc.opcintype and ap.amprocrighttype = oc.opcintype
           join pg_proc p on p.oid = ap.amproc and p.pronamespace = 'pg_catalog'::regnamespace
           join pg_type it on it.oid = oc.opcintype
           join pg_namespace tn on tn.oid = it.typnamespace
          where oc.opcdefault and oc.opcintype = case when ty.typtype = 'd' then ty.typbasetype else ty.oid end
       ) h on true
      where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped
      order by a.attnum`,
    [relation(table)],
  );
  if (rows.length > WIDEST_CHAIN || rows.some((c) => c.textOnly)) return TEXT_HASH;
  return (alias) =>
    rows.reduce((seed, { column, notNull, fn, takes, recordHash }) => {
      const value = `${alias}.${column}`;
      const hash = (s: string) =>
        fn && takes
          ? `${fn}((${value})::${takes}, ${s})`
          : fn && recordHash
            ? `pg_catalog.hash_record_extended(row(${value}), ${s})`
            : `pg_catalog.hashtextextended((${value})::text, ${s})`;
      return notNull ? hash(seed) : `pg_catalog.hashint8extended(coalesce(${hash('0')}, ${NULL_MARK}), ${seed})`;
    }, '0::bigint');
}

async function tableState(client: pg.Client, table: string, seeded: SeededRange[string] | undefined): Promise<TableState> {
  const timeColumn = TIME_COLUMNS[table];
  const latest = timeColumn ? `, max(t.${quoteIdent(timeColumn)})::text as latest` : '';
  const where = seeded ? ` where t.${quoteIdent(seeded.column)} <= ${Number(seeded.max)}` : '';
  const hash = await rowHash(client, table);
  const { rows } = await client.query<{ rows: string; fingerprint: string | null; latest?: string | null }>(
    `select count(*) as rows, coalesce(sum(${hash('t')}), 0)::text as fingerprint${latest}
       from ${relation(table)} t${where}`,
  );
  const row = rows[0]!;
  return { rows: Number(row.rows), fingerprint: row.fingerprint ?? '0', ...(timeColumn ? { latest: row.latest ?? null } : {}) };
}

async function objects(client: pg.Client): Promise<DatabaseState['objects']> {
  // An extension's own tables are the extension's (its version is compared instead), but for its configuration
  // tables (PostGIS's spatial_ref_sys), which hold the team's rows too and which pg_dump dumps.
  const tables = await client.query<{ name: string }>(
    `select ${KEY('n.nspname', 'c.relname')} as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where ${USER_SCHEMA('n.nspname')} and c.relkind in ('r', 'p')
        and (not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
             or exists (select 1 from pg_extension e where c.oid = any(e.extconfig)))
      order by 1`,
  );
  const indexes = await client.query<{ name: string }>(
    `select ${KEY('schemaname', 'tablename')} || '.' || indexname as name from pg_indexes where ${USER_SCHEMA('schemaname')} order by 1`,
  );
  const constraints = await client.query<{ name: string }>(
    `select ${KEY('n.nspname', 't.relname')} || '.' || c.conname || ' (' || c.contype::text || ')' as name
       from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_namespace n on n.oid = t.relnamespace
      where ${USER_SCHEMA('n.nspname')} order by 1`,
  );
  const owned = await client.query<{ seq: string; tab: string; col: string }>(
    `select ${KEY('n.nspname', 's.relname')} as seq, ${KEY('tn.nspname', 't.relname')} as tab, a.attname as col
       from pg_class s
       join pg_namespace n on n.oid = s.relnamespace and ${USER_SCHEMA('n.nspname')}
       join pg_depend d on d.objid = s.oid and d.classid = 'pg_class'::regclass
                       and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')
       join pg_class t on t.oid = d.refobjid
       join pg_namespace tn on tn.oid = t.relnamespace
       join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
      where s.relkind = 'S' order by 1`,
  );
  const sequences: Record<string, SequenceState> = {};
  for (const { seq, tab, col } of owned.rows) {
    const { rows } = await client.query<{ last_value: string; max: string | null }>(
      `select (select last_value from ${relation(seq)}) as last_value,
              (select max(${quoteIdent(col)}) from ${relation(tab)})::text as max`,
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
    definitions: await definitions(client),
  };
}

/**
 * Every object of the team's schemas by its definition, not its name: a
 * restore that redefines an object under its own name (a primary key on other
 * columns, CHECK (true), a NOT VALID foreign key) must not pass. Extension
 * members are the extension's (its version is compared instead); a
 * continuous aggregate's view and TimescaleDB's own triggers name internal
 * ids that a rebuild renumbers, and the timescaledb check owns them.
 */
async function definitions(client: pg.Client): Promise<Record<string, string>> {
  const aggregates = (await installedVersion(client))
    ? (await client.query<{ v: string }>('select view_name as v from timescaledb_information.continuous_aggregates')).rows.map((r) => r.v)
    : [];
  const { rows } = await client.query<{ key: string; def: string }>(DEFINITIONS_SQL, [aggregates]);
  return Object.fromEntries(rows.map((r) => [r.key, r.def]));
}

const DEFINITIONS_SQL = `
with user_rel as (
  select c.oid, c.relname, ${KEY('n.nspname', 'c.relname')} as key, c.relkind, c.relacl, pg_get_userbyid(c.relowner) as owner
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where ${USER_SCHEMA('n.nspname')}
     and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
)
select 'column ' || r.key || '.' || a.attname as key,
       format_type(a.atttypid, a.atttypmod) || case when a.attnotnull then ' not null' else '' end
         || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
         || case when a.attidentity <> '' then ' identity ' || a.attidentity::text else '' end as def
  from user_rel r join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
  left join pg_attrdef d on d.adrelid = r.oid and d.adnum = a.attnum
 where r.relkind in ('r', 'p')
union all
select 'index ' || r.key || '.' || i.relname, pg_get_indexdef(i.oid) || case when x.indisvalid then '' else ' (invalid)' end
  from user_rel r join pg_index x on x.indrelid = r.oid join pg_class i on i.oid = x.indexrelid
union all
select 'constraint ' || r.key || '.' || c.conname, pg_get_constraintdef(c.oid) || case when c.convalidated then '' else ' (not validated)' end
  from user_rel r join pg_constraint c on c.conrelid = r.oid
union all
select 'sequence ' || ${KEY('s.schemaname', 's.sequencename')}, format('%s start %s increment %s min %s max %s cache %s%s', s.data_type, s.start_value, s.increment_by, s.min_value, s.max_value, s.cache_size, case when s.cycle then ' cycle' else '' end)
  from pg_sequences s where ${USER_SCHEMA('s.schemaname')}
union all
select 'view ' || r.key, pg_get_viewdef(r.oid)
  from user_rel r where r.relkind in ('v', 'm')
   and not (r.relname = any($1::text[]))
union all
select 'trigger ' || r.key || '.' || t.tgname, pg_get_triggerdef(t.oid)
  from user_rel r join pg_trigger t on t.tgrelid = r.oid and not t.tgisinternal and t.tgname not like 'ts\\_%'
union all
select 'function ' || ${KEY('n.nspname', 'p.proname')} || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       pg_get_function_result(p.oid) || ' ' || md5(p.prosrc) || ' ' || p.provolatile::text
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace and ${USER_SCHEMA('n.nspname')}
 where not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
union all
select k || n.nspname, case when k = 'schema ' then 'present' else pg_get_userbyid(n.nspowner)::text end
  from pg_namespace n, unnest(array['schema ', 'owner schema ']) as k
 where ${USER_SCHEMA('n.nspname')}
   and not exists (select 1 from pg_depend d where d.classid = 'pg_namespace'::regclass and d.objid = n.oid and d.deptype = 'e')
union all
select 'extension ' || e.extname, case when e.extname = 'timescaledb' then '(its version: see the timescaledb check)' else e.extversion end
  from pg_extension e
union all
select 'owner ' || r.key, r.owner from user_rel r where r.relkind in ('r', 'p', 'v', 'm', 'S') and not (r.relname = any($1::text[]))
union all
select 'grants ' || r.key, r.relacl::text from user_rel r where r.relacl is not null and not (r.relname = any($1::text[]))
order by 1`;

/**
 * Never throws: a database that cannot be reached, or a table that cannot be
 * read, is recorded as such so the checks can name what is missing. Tables
 * with a seeded range are read over that range only.
 */
export async function captureState(
  connect: (database: string) => Promise<pg.Client>,
  database: string,
  tables: readonly string[],
  label: string,
  seeded: SeededRange = {},
): Promise<DatabaseState> {
  const empty: DatabaseState['objects'] = { tables: [], indexes: [], constraints: [], sequences: {}, definitions: {} };
  let client: pg.Client;
  try {
    client = await connect(database);
  } catch (error) {
    return { database, label, unreachable: errorMessage(error), tables: {}, objects: empty };
  }
  try {
    // One transaction, so a table that cannot be read is taken back to its savepoint and the rest are still read.
    await client.query('begin');
    const state = await stateOf(client, database, tables, label, seeded);
    await client.query('commit');
    return state;
  } catch (error) {
    return { database, label, unreachable: errorMessage(error), tables: {}, objects: empty };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The same, on a connection the caller holds, inside its transaction (in a
 * repeatable-read one, in that snapshot): `tables` undefined reads every
 * table of the team's schemas. Each table is read under a savepoint, so one
 * that cannot be read is recorded and the others still are.
 */
export async function stateOf(client: pg.Client, database: string, tables: readonly string[] | undefined, label: string, seeded: SeededRange = {}): Promise<DatabaseState> {
  const state: DatabaseState = { database, label, tables: {}, objects: await objects(client) };
  for (const table of tables ?? state.objects.tables) {
    await client.query('savepoint read_table');
    try {
      state.tables[table] = await tableState(client, table, seeded[table]);
      await client.query('release savepoint read_table');
    } catch (error) {
      state.tables[table] = { error: errorMessage(error) };
      await client.query('rollback to savepoint read_table');
    }
  }
  await client.query('savepoint read_timescale');
  try {
    const timescale = await timescaleState(client);
    if (timescale) state.timescale = timescale;
    await client.query('release savepoint read_timescale');
  } catch (error) {
    state.timescaleError = errorMessage(error);
    await client.query('rollback to savepoint read_timescale');
  }
  return state;
}

/**
 * Every database of a cluster that takes connections, each read whole in one
 * repeatable-read snapshot: the state a rollback must bring back. Never
 * throws: a cluster that cannot be read is `unreachable`.
 */
/** A cluster's databases by name, each read whole; or why it could not be read. */
export type ClusterState = Record<string, DatabaseState> | { unreachable: string };

export async function clusterState(connect: (database: string) => Promise<pg.Client>): Promise<ClusterState> {
  try {
    const client = await connect('postgres');
    let names: string[];
    try {
      names = (await client.query<{ name: string }>('select datname as name from pg_database where datallowconn and not datistemplate order by 1')).rows.map((r) => r.name);
    } finally {
      await client.end().catch(() => undefined);
    }
    const states: Record<string, DatabaseState> = {};
    for (const name of names) {
      const db = await connect(name);
      try {
        await db.query('begin isolation level repeatable read');
        states[name] = await stateOf(db, name, undefined, 'the cluster');
        await db.query('commit');
      } finally {
        await db.end().catch(() => undefined);
      }
    }
    return states;
  } catch (error) {
    return { unreachable: errorMessage(error) };
  }
}
