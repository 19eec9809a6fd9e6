/**
 * Loads the synthetic market data into a database: schema, then every table
 * streamed through COPY, then TimescaleDB's hypertable and continuous
 * aggregate when the server can load the extension.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { datasetStreams, type TableStream } from './generators.js';
import { SCALES, type ScaleName } from './scale.js';
import { IDENTITY_COLUMNS, SCHEMA_SQL, TIMESCALE_SQL } from './schema.js';

export interface SeedOptions {
  scale: ScaleName;
  seed: number;
  /** Build candles as a hypertable; only when the server has the extension. */
  timescale: boolean;
}

export interface SeedResult {
  rows: Record<string, number>;
  timescale: boolean;
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
    await client.query(TIMESCALE_SQL.aggregate);
  }
  const rows: Record<string, number> = {};
  for (const source of datasetStreams(options.seed, SCALES[options.scale])) {
    await copyTable(client, source);
    rows[source.table] = source.rows;
  }
  for (const { table, column } of IDENTITY_COLUMNS) {
    await client.query(
      `select setval(pg_get_serial_sequence($1, $2), (select coalesce(max(${column}), 1) from ${table}))`,
      [table, column],
    );
  }
  if (options.timescale) await client.query(TIMESCALE_SQL.refresh);
  await client.query('analyze');
  return { rows, timescale: options.timescale };
}
