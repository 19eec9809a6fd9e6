/**
 * Loads the synthetic market data into a database: schema, then every table
 * streamed through COPY, then, when the server can load TimescaleDB, its
 * hypertable, compression, continuous aggregates and policies. The time
 * series end at the start of the current UTC day, so they stand where
 * production data stands relative to now, and policies see them as they
 * would see production's.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { datasetStreams, spanMs, type TableStream } from './generators.js';
import { scaleOf, type ScaleSetting } from './scale.js';
import { IDENTITY_COLUMNS, SCHEMA_SQL, TIMESCALE_SQL } from './schema.js';

export interface SeedOptions {
  scale: ScaleSetting;
  seed: number;
  /** Build candles as a hypertable; only when the server has the extension. */
  timescale: boolean;
  /** Hears what the seed is doing now, for progress lines on a long seed. */
  progress?: (note: string) => void;
}

export interface SeedResult {
  rows: Record<string, number>;
  timescale: boolean;
  /** What was built, in a line for the report. */
  layout: string;
}

/** The rows the seed wrote to the tables that get more later (orders and trades): their identity keys up to the scale's count. */
export function seededRange(scale: ScaleSetting): Record<string, { column: string; max: number }> {
  return Object.fromEntries(IDENTITY_COLUMNS.map(({ table, column }) => [table, { column, max: scaleOf(scale)[table as 'orders' | 'trades'] }]));
}

/** The start of the current UTC day: where the time series end (a seed of another day has other timestamps). */
export function dataEnd(at = new Date()): number {
  return Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
}

export async function copyTable(client: pg.Client, source: TableStream): Promise<void> {
  const sink = client.query(copyFrom(`copy ${source.table} (${source.columns.join(', ')}) from stdin`));
  await pipeline(Readable.from(source.stream()), sink);
}

export async function seedDataset(client: pg.Client, options: SeedOptions): Promise<SeedResult> {
  await client.query(SCHEMA_SQL);
  if (options.timescale) {
    await client.query(TIMESCALE_SQL.extension);
    await client.query(TIMESCALE_SQL.hypertable);
    await client.query(TIMESCALE_SQL.compression);
    for (const aggregate of TIMESCALE_SQL.aggregates) await client.query(aggregate);
  }
  const scale = scaleOf(options.scale);
  const end = dataEnd();
  const rows: Record<string, number> = {};
  for (const source of datasetStreams(options.seed, scale, end - spanMs(scale))) {
    options.progress?.(`copying ${source.rows} rows into ${source.table}`);
    await copyTable(client, source);
    rows[source.table] = source.rows;
  }
  for (const { table, column } of IDENTITY_COLUMNS) {
    await client.query(
      `select setval(pg_get_serial_sequence($1, $2), (select coalesce(max(${column}), 1) from ${table}))`,
      [table, column],
    );
  }
  let layout = 'plain PostgreSQL tables (TimescaleDB not available)';
  if (options.timescale) {
    options.progress?.('refreshing the continuous aggregates and compressing chunks');
    for (const refresh of TIMESCALE_SQL.refresh) await client.query(refresh);
    const compressed = (await client.query<{ n: string }>(TIMESCALE_SQL.compress)).rows[0]!.n;
    for (const policy of TIMESCALE_SQL.policies) await client.query(policy);
    layout = `TimescaleDB: candles a hypertable (${compressed} chunks compressed), continuous aggregates candles_1h and candles_1d, compression, retention and refresh policies`;
  }
  await client.query('analyze');
  return { rows, timescale: options.timescale, layout };
}
