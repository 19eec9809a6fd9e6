/**
 * TimescaleDB knowledge, no drill in it: which versions a server offers,
 * which one a database runs, the documented restore hooks, and what a
 * database holds in TimescaleDB's terms (hypertables, chunks, compression,
 * continuous aggregates, jobs), read through its timescaledb_information
 * views. Every function here is given a connected client.
 */
import type pg from 'pg';
import type { TimescaleState } from '../model/snapshot.js';
import { quoteIdent } from './client.js';

/** The timescaledb extension version installed in the client's database, if any. */
export async function installedVersion(client: pg.Client): Promise<string | undefined> {
  const { rows } = await client.query<{ v: string }>("select extversion as v from pg_extension where extname = 'timescaledb'");
  return rows[0]?.v;
}

/** The versions of timescaledb the server can create (its install scripts present), and its default. */
export async function availableVersions(client: pg.Client): Promise<{ versions: string[]; default?: string }> {
  const { rows } = await client.query<{ version: string; def: string | null }>(
    `select v.version, a.default_version as def from pg_available_extension_versions v
       join pg_available_extensions a on a.name = v.name where v.name = 'timescaledb' order by 1`,
  );
  return { versions: rows.map((r) => r.version), default: rows[0]?.def ?? undefined };
}

/** Whether timescaledb.restoring is on for new sessions of the client's database (timescaledb_pre_restore() without its post_restore()). */
export async function restoringFlag(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ v: string | null }>("select current_setting('timescaledb.restoring', true) as v");
  return rows[0]?.v ?? 'off';
}

/**
 * What a job acts on, named the same in every version: TimescaleDB 2.17 names
 * a continuous aggregate's refresh policy by its materialization hypertable,
 * 2.28 by the aggregate itself. Reads the jobs view as `j`.
 */
export const JOB_TARGET = `coalesce((select a.view_name from timescaledb_information.continuous_aggregates a
    where a.materialization_hypertable_name = j.hypertable_name), j.hypertable_name)`;

/** Jobs below this id are TimescaleDB's own (telemetry, job history retention); policies and user jobs start here. */
const FIRST_USER_JOB = 1000;

function hash(alias: string): string {
  return `count(*)::bigint as rows, coalesce(sum(hashtextextended(${alias}::text, 0)), 0)::text as fingerprint`;
}

/**
 * What the database holds in TimescaleDB's terms. Row counts of compressed
 * chunks are read through the chunks (decompressing on the fly), so a chunk
 * that came back compressed but empty is seen.
 */
export async function timescaleState(client: pg.Client): Promise<TimescaleState | undefined> {
  const version = await installedVersion(client);
  if (!version) return undefined;
  const state: TimescaleState = { version, restoring: await restoringFlag(client), hypertables: {}, aggregates: {}, jobs: [] };
  const hypertables = await client.query<{ schema: string; name: string; compression: boolean }>(
    `select hypertable_schema as schema, hypertable_name as name, compression_enabled as compression
       from timescaledb_information.hypertables
      where hypertable_schema not like '\\_timescaledb%' order by 1, 2`,
  );
  for (const { schema, name, compression } of hypertables.rows) {
    const dimensions = await client.query<{ d: string }>(
      `select column_name || ' ' || dimension_type || coalesce(' ' || time_interval::text, '') || coalesce(' ' || integer_interval::text, '') as d
         from timescaledb_information.dimensions where hypertable_schema = $1 and hypertable_name = $2 order by dimension_number`,
      [schema, name],
    );
    const chunks = await client.query<{ chunk: string; compressed: boolean }>(
      `select format('%I.%I', chunk_schema, chunk_name) as chunk, is_compressed as compressed
         from timescaledb_information.chunks where hypertable_schema = $1 and hypertable_name = $2 order by range_start`,
      [schema, name],
    );
    let compressedRows = 0;
    for (const chunk of chunks.rows.filter((c) => c.compressed)) {
      compressedRows += Number((await client.query<{ n: string }>(`select count(*) as n from ${chunk.chunk}`)).rows[0]!.n);
    }
    state.hypertables[name] = {
      dimensions: dimensions.rows.map((r) => r.d),
      compression,
      chunks: chunks.rows.length,
      compressedChunks: chunks.rows.filter((c) => c.compressed).length,
      compressedRows,
    };
  }
  const aggregates = await client.query<{ schema: string; name: string; definition: string; materializedOnly: boolean }>(
    `select view_schema as schema, view_name as name, view_definition as definition, materialized_only as "materializedOnly"
       from timescaledb_information.continuous_aggregates order by 1, 2`,
  );
  for (const { schema, name, definition, materializedOnly } of aggregates.rows) {
    const stored = await client.query<{ rows: string; fingerprint: string }>(`select ${hash('t')} from ${quoteIdent(schema)}.${quoteIdent(name)} t`);
    // The aggregate computed afresh from the data it summarises, to compare with what it holds.
    const fresh = await client.query<{ rows: string; fingerprint: string }>(`select ${hash('t')} from (${definition.replace(/;\s*$/, '')}) t`);
    state.aggregates[name] = {
      materializedOnly,
      rows: Number(stored.rows[0]!.rows),
      fingerprint: stored.rows[0]!.fingerprint,
      freshRows: Number(fresh.rows[0]!.rows),
      freshFingerprint: fresh.rows[0]!.fingerprint,
    };
  }
  const jobs = await client.query<{ job: string }>(
    `select j.proc_name || ' on ' || coalesce(${JOB_TARGET}, '-') || ' every ' || j.schedule_interval::text
            || coalesce(' ' || (j.config - 'hypertable_id' - 'mat_hypertable_id')::text, '') || case when j.scheduled then '' else ' (paused)' end as job
       from timescaledb_information.jobs j where j.job_id >= ${FIRST_USER_JOB} order by 1`,
  );
  state.jobs = jobs.rows.map((r) => r.job);
  return state;
}

/** The jobs of the database that ran at or after `since`, with how each ended. */
export async function jobRunsSince(client: pg.Client, since: string): Promise<string[]> {
  const { rows } = await client.query<{ run: string }>(
    `select j.proc_name || ' on ' || coalesce(${JOB_TARGET}, '-') || ' (job ' || j.job_id || ') ran at ' || s.last_run_started_at::text
            || ', ' || coalesce(s.last_run_status, 'running') as run
       from timescaledb_information.job_stats s join timescaledb_information.jobs j using (job_id)
      where s.last_run_started_at >= $1::timestamptz and j.job_id >= ${FIRST_USER_JOB}
      order by s.last_run_started_at`,
    [since],
  );
  return rows.map((r) => r.run);
}

/** Whether a background-worker scheduler serves the database (post_restore() restarts it). */
export async function schedulerRunning(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ n: string }>(
    "select count(*) as n from pg_stat_activity where backend_type like 'TimescaleDB Background Worker Scheduler%' and datname = current_database()",
  );
  return Number(rows[0]!.n) > 0;
}

/**
 * Copies the hypertable's newest row one microsecond later, in a transaction
 * that is rolled back, and says where the copy landed: a chunk, or (after a
 * restore whose timescaledb_post_restore() never ran) the hypertable's own
 * root table, where rows are invisible to TimescaleDB. A hypertable that
 * reads as empty (in restore mode every chunk is hidden) has no row to copy.
 */
export async function probeInsert(client: pg.Client, hypertable: string): Promise<{ landed: string } | { unprobed: string }> {
  const { rows: dims } = await client.query<{ col: string }>(
    "select column_name as col from timescaledb_information.dimensions where hypertable_name = $1 and dimension_type = 'Time' order by dimension_number limit 1",
    [hypertable],
  );
  const time = dims[0]?.col;
  if (!time) return { unprobed: 'it has no time dimension' };
  const table = quoteIdent(hypertable);
  await client.query('begin');
  try {
    const { rows } = await client.query<{ landed: string }>(
      `insert into ${table}
       select (jsonb_populate_record(null::${table}, to_jsonb(t) || jsonb_build_object($1::text, t.${quoteIdent(time)} + interval '1 microsecond'))).*
         from ${table} t order by t.${quoteIdent(time)} desc limit 1
       returning tableoid::regclass::text as landed`,
      [time],
    );
    return rows[0] ? { landed: rows[0].landed } : { unprobed: 'it reads as empty, with no row to copy' };
  } finally {
    await client.query('rollback');
  }
}

/**
 * The relation that holds a table's rows on disk, the largest first: the
 * table itself, or for a hypertable the biggest of its chunks (a compressed
 * chunk's rows live in its compressed table). Its own root table holds none.
 */
export async function rowHoldingRelation(client: pg.Client, table: string): Promise<string> {
  const { rows } = await client.query<{ rel: string }>(
    `select format('%I.%I', coalesce(z.schema_name, c.schema_name), coalesce(z.table_name, c.table_name)) as rel
       from _timescaledb_catalog.chunk c
       join _timescaledb_catalog.hypertable h on h.id = c.hypertable_id
       left join _timescaledb_catalog.chunk z on z.id = c.compressed_chunk_id
      where h.schema_name = 'public' and h.table_name = $1
      order by pg_relation_size(format('%I.%I', coalesce(z.schema_name, c.schema_name), coalesce(z.table_name, c.table_name))::regclass) desc
      limit 1`,
    [table],
  );
  return rows[0]?.rel ?? table;
}
