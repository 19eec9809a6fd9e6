/**
 * One hypertable back from a dump, the way TimescaleDB documents restoring a
 * single hypertable: pg_restore cannot select it (its rows live in chunk
 * tables, its shape in TimescaleDB's catalog), so the whole dump is restored
 * into a scratch database, and from there the hypertable is rebuilt in the
 * live database: its table, indexes and constraints; create_hypertable() with
 * the same dimension; its compression settings; its rows (streamed, or only a
 * time range of them); the same chunks compressed; and the continuous
 * aggregates and policies built on it that the fault took along. The scratch
 * database is dropped at the end, whatever happened.
 */
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { Instance } from '../engines/types.js';
import { RecoveryError } from '../errors.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { catalogRows } from '../backup/dump-catalog.js';
import type { BackupArtifact } from '../model/artifact.js';
import { quoteIdent, withClient } from '../pg/client.js';
import { JOB_TARGET } from '../pg/timescaledb.js';
import { restoreTimescaleDump } from './timescale-restore.js';

/** A time range of a hypertable, as the runbooks restore "candles for one month". */
export interface TimeRange {
  from: string;
  to: string;
}

/** What the rebuild did, for the journal. */
export interface HypertableRestore {
  scratch: string;
  rows: number;
  compressedChunks: number;
  aggregates: string[];
  policies: string[];
  range?: TimeRange;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The hypertables a TimescaleDB dump holds (schema.table), read from its catalog's data without restoring anything. */
export async function hypertablesInDump(instance: Instance, dump: string): Promise<string[]> {
  return (await catalogRows(instance, dump, '_timescaledb_catalog', 'hypertable'))
    .filter((row) => row.schema_name !== '_timescaledb_internal')
    .map((row) => `${row.schema_name}.${row.table_name}`);
}

/**
 * The dump's tables that hold a hypertable's rows: the hypertable itself (its
 * root, empty), each chunk, and each compressed chunk's own table, as a
 * dump's COPY lines name them (schema.table).
 */
export async function hypertableTablesInDump(instance: Instance, dump: string, schema: string, table: string): Promise<string[]> {
  const hypertable = (await catalogRows(instance, dump, '_timescaledb_catalog', 'hypertable')).find((row) => row.schema_name === schema && row.table_name === table);
  if (!hypertable) return [`${schema}.${table}`];
  const chunks = (await catalogRows(instance, dump, '_timescaledb_catalog', 'chunk')).filter((chunk) => chunk.dropped !== 't');
  const own = chunks.filter((chunk) => chunk.hypertable_id === hypertable.id);
  const compressed = new Set(own.map((chunk) => chunk.compressed_chunk_id).filter((id) => id !== '\\N'));
  return [`${schema}.${table}`, ...[...own, ...chunks.filter((chunk) => compressed.has(chunk.id))].map((chunk) => `${chunk.schema_name}.${chunk.table_name}`)];
}

async function copyRows(source: pg.Client, target: pg.Client, table: string, where: string): Promise<number> {
  const sink = target.query(copyFrom(`copy ${quoteIdent(table)} from stdin`));
  await pipeline(source.query(copyTo(`copy (select * from ${quoteIdent(table)} ${where}) to stdout`)), sink);
  return Number(sink.rowCount ?? 0);
}

/**
 * The chunks compressed in the backup (those meeting `range`, when given)
 * compressed again: a chunk rebuilt or refilled from the dump starts
 * uncompressed, and one refilled in part holds rows outside its compression.
 * The target's chunks cover the same time ranges as the source's.
 */
async function compressAsInBackup(source: pg.Client, target: pg.Client, table: string, range?: TimeRange): Promise<number> {
  const compressed = await source.query<{ start: string }>(
    `select range_start::text as start from timescaledb_information.chunks
      where hypertable_name = $1 and is_compressed${range ? ' and range_end > $2::timestamptz and range_start < $3::timestamptz' : ''}`,
    range ? [table, range.from, range.to] : [table],
  );
  let count = 0;
  for (const { start } of compressed.rows) {
    const chunk = await target.query<{ c: string }>(
      'select format($$%I.%I$$, chunk_schema, chunk_name) as c from timescaledb_information.chunks where hypertable_name = $1 and range_start = $2::timestamptz',
      [table, start],
    );
    for (const { c } of chunk.rows) await target.query('select compress_chunk($1::regclass, if_not_compressed => true)', [c]);
    count += chunk.rows.length;
  }
  return count;
}

/** Rebuilds `table` (a hypertable in `database`) from the dump; with `range`, replaces only the rows in it. */
export async function restoreHypertable(
  instance: Instance,
  backup: BackupArtifact,
  database: string,
  table: string,
  jobs: number,
  range?: TimeRange,
): Promise<HypertableRestore> {
  const scratch = `${database}_scratch`.slice(0, 63);
  const admin = () => instance.connect('postgres');
  await withClient(admin, async (client) => {
    await client.query(`drop database if exists ${quoteIdent(scratch)} with (force)`);
    await client.query(`create database ${quoteIdent(scratch)}`);
  });
  try {
    await restoreTimescaleDump(instance, scratch, backup, jobs);
    return await withClient(
      () => instance.connect(scratch),
      (source) => withClient(() => instance.connect(database), (target) => rebuild(instance, source, target, scratch, database, table, range)),
    );
  } finally {
    await withClient(admin, (client) => client.query(`drop database if exists ${quoteIdent(scratch)} with (force)`));
  }
}

async function rebuild(instance: Instance, source: pg.Client, target: pg.Client, scratch: string, database: string, table: string, range: TimeRange | undefined): Promise<HypertableRestore> {
  const dim = (
    await source.query<{ col: string; interval: string }>(
      `select column_name as col, time_interval::text as interval from timescaledb_information.dimensions
        where hypertable_name = $1 and dimension_type = 'Time' order by dimension_number limit 1`,
      [table],
    )
  ).rows[0];
  if (!dim) throw new RecoveryError(`${table} is not a hypertable with a time dimension in the backup`);
  const time = quoteIdent(dim.col);
  const exists = (await target.query<{ oid: string | null }>('select to_regclass($1)::text as oid', [table])).rows[0]!.oid !== null;
  const result: HypertableRestore = { scratch, rows: 0, compressedChunks: 0, aggregates: [], policies: [], ...(range ? { range } : {}) };
  if (range) {
    if (!exists) throw new RecoveryError(`restoring a time range of ${table} needs the table in ${database}; it is gone (restore the whole table instead)`);
    // Whole chunks inside the range go; rows at its edges are deleted; then the range comes back from the backup.
    await target.query(`select drop_chunks(${literal(table)}, newer_than => $1::timestamptz, older_than => $2::timestamptz)`, [range.from, range.to]);
    await target.query(`delete from ${quoteIdent(table)} where ${time} >= $1 and ${time} < $2`, [range.from, range.to]);
    result.rows = await copyRows(source, target, table, `where ${time} >= ${literal(range.from)} and ${time} < ${literal(range.to)}`);
    result.compressedChunks = await compressAsInBackup(source, target, table, range);
    for (const { view } of (await target.query<{ view: string }>(
      'select view_name as view from timescaledb_information.continuous_aggregates where hypertable_name = $1',
      [table],
    )).rows) {
      // The whole window: the range's changes invalidated its buckets, and a window narrower than a bucket is refused.
      await target.query(`call refresh_continuous_aggregate(${literal(view)}, null, null)`);
      result.aggregates.push(`${view} refreshed`);
    }
    return result;
  }
  // The whole table: whatever is left of it goes (a damaged table cannot be trusted), and it is rebuilt.
  if (exists) await target.query(`drop table ${quoteIdent(table)} cascade`);
  const ddl = (await instance.runPgTool('pg_dump', ['--schema-only', `--table=${table}`, `--dbname=${scratch}`], { timeoutMs: TOOL_TIMEOUT_MS })).stdout;
  // Run on a connection of its own (the dump empties search_path), without psql's meta-commands (\restrict).
  await withClient(() => instance.connect(database), (client) => client.query(ddl.split('\n').filter((line) => !line.startsWith('\\')).join('\n')));
  await target.query(`select create_hypertable(${literal(table)}, ${literal(dim.col)}, chunk_time_interval => ${literal(dim.interval)}::interval)`);
  const settings = await source.query<{ attname: string; segment: number | null; order: number | null; asc: boolean | null; nullsFirst: boolean | null }>(
    `select attname, segmentby_column_index as segment, orderby_column_index as "order", orderby_asc as asc, orderby_nullsfirst as "nullsFirst"
       from timescaledb_information.compression_settings where hypertable_name = $1`,
    [table],
  );
  if (settings.rows.length) {
    const segment = settings.rows.filter((s) => s.segment !== null).sort((a, b) => a.segment! - b.segment!).map((s) => quoteIdent(s.attname));
    const order = settings.rows
      .filter((s) => s.order !== null)
      .sort((a, b) => a.order! - b.order!)
      .map((s) => `${quoteIdent(s.attname)} ${s.asc ? 'asc' : 'desc'}${s.nullsFirst ? ' nulls first' : ' nulls last'}`);
    await target.query(
      `alter table ${quoteIdent(table)} set (timescaledb.compress, timescaledb.compress_segmentby = ${literal(segment.join(', '))}, timescaledb.compress_orderby = ${literal(order.join(', '))})`,
    );
  }
  result.rows = await copyRows(source, target, table, '');
  result.compressedChunks = await compressAsInBackup(source, target, table);
  // Continuous aggregates on it that are gone (DROP ... CASCADE takes them along), defined as in the backup.
  const aggregates = await source.query<{ view: string; definition: string; materializedOnly: boolean }>(
    'select view_name as view, view_definition as definition, materialized_only as "materializedOnly" from timescaledb_information.continuous_aggregates where hypertable_name = $1',
    [table],
  );
  for (const aggregate of aggregates.rows) {
    if ((await target.query<{ oid: string | null }>('select to_regclass($1)::text as oid', [aggregate.view])).rows[0]!.oid !== null) continue;
    await target.query(
      `create materialized view ${quoteIdent(aggregate.view)} with (timescaledb.continuous, timescaledb.materialized_only = ${aggregate.materializedOnly}) as ${aggregate.definition.replace(/;\s*$/, '')} with no data`,
    );
    await target.query(`call refresh_continuous_aggregate(${literal(aggregate.view)}, null, null)`);
    result.aggregates.push(aggregate.view);
  }
  // Their policies, with the schedule and the next start they had.
  const policies = await source.query<{ proc: string; on: string; config: Record<string, string>; every: string; next: string | null }>(
    `select * from (
       select j.proc_name as proc, ${JOB_TARGET} as on, j.config, j.schedule_interval::text as every, j.next_start::text as next
         from timescaledb_information.jobs j) p
      where p.on = $1 or p.on in (select view_name from timescaledb_information.continuous_aggregates where hypertable_name = $1)`,
    [table],
  );
  const existing = new Set((await target.query<{ j: string }>(`select j.proc_name || ' ' || coalesce(${JOB_TARGET}, '') as j from timescaledb_information.jobs j`)).rows.map((r) => r.j));
  for (const policy of policies.rows) {
    const on = policy.on;
    if (existing.has(`${policy.proc} ${on}`)) continue;
    const start = policy.next ? `, initial_start => ${literal(policy.next)}::timestamptz` : '';
    const sql =
      policy.proc === 'policy_compression'
        ? `select add_compression_policy(${literal(on)}, compress_after => ${literal(policy.config.compress_after!)}::interval${start})`
        : policy.proc === 'policy_retention'
          ? `select add_retention_policy(${literal(on)}, drop_after => ${literal(policy.config.drop_after!)}::interval${start})`
          : policy.proc === 'policy_refresh_continuous_aggregate'
            ? `select add_continuous_aggregate_policy(${literal(on)}, start_offset => ${literal(policy.config.start_offset!)}::interval, end_offset => ${literal(policy.config.end_offset!)}::interval, schedule_interval => ${literal(policy.every)}::interval${start})`
            : undefined;
    if (!sql) continue;
    await target.query(sql);
    result.policies.push(`${policy.proc} on ${on}`);
  }
  await target.query(`analyze ${quoteIdent(table)}`);
  return result;
}
