/**
 * Rows of a catalog table as a dump holds them, read without restoring
 * anything: TimescaleDB keeps in its own catalog which tables are hypertables
 * and which version wrote the dump. A custom-format dump is asked with
 * pg_restore; a plain .sql.gz is read as a stream up to the table's COPY
 * block, which pg_dump writes near the start (the extension's schemas sort
 * before the team's), so a dump of hundreds of GB is not read whole.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Instance } from '../engines/types.js';
import type { DumpedTimescale } from '../model/snapshot.js';

type Row = Record<string, string>;

/** The COPY header pg_dump writes for `schema.table`, with its column list. */
const copyHeader = (schema: string, table: string) => new RegExp(`^COPY ${schema}\\.${table} \\(([^)]*)\\) FROM stdin;$`);

const rowOf = (columns: string[], line: string): Row => Object.fromEntries(line.split('\t').map((value, i) => [columns[i]!, value]));

/** The rows of `schema.table`'s COPY data in a custom-format dump, each as column → text (\N for null), or none when it holds none. */
export async function catalogRows(instance: Instance, dump: string, schema: string, table: string): Promise<Row[]> {
  const { stdout } = await instance.runPgTool('pg_restore', ['--data-only', `--schema=${schema}`, `--table=${table}`, '--file=-', dump]);
  const lines = stdout.split('\n');
  const start = lines.findIndex((line) => copyHeader(schema, table).test(line));
  if (start < 0) return [];
  const columns = copyHeader(schema, table).exec(lines[start]!)![1]!.split(',').map((c) => c.trim());
  const end = lines.indexOf('\\.', start);
  return lines.slice(start + 1, end < 0 ? undefined : end).filter(Boolean).map((line) => rowOf(columns, line));
}

/** The same from a plain dump, gzipped: read line by line until the table's data has ended, then stopped. */
async function plainCatalogRows(dump: string, schema: string, table: string): Promise<Row[]> {
  const input = createReadStream(dump);
  const lines = createInterface({ input: input.pipe(createGunzip()), crlfDelay: Infinity });
  const header = copyHeader(schema, table);
  let columns: string[] | undefined;
  const rows: Row[] = [];
  try {
    for await (const line of lines) {
      if (!columns) {
        const found = header.exec(line);
        if (found) columns = found[1]!.split(',').map((c) => c.trim());
      } else if (line === '\\.') {
        break;
      } else if (line) {
        rows.push(rowOf(columns, line));
      }
    }
  } finally {
    lines.close();
    input.destroy();
  }
  return rows;
}

/** A catalog table's rows from a dump of either format. */
function dumpCatalogRows(instance: Instance, dump: string, format: 'custom' | 'plain.gz', schema: string, table: string): Promise<Row[]> {
  return format === 'custom' ? catalogRows(instance, dump, schema, table) : plainCatalogRows(dump, schema, table);
}

export async function timescaleOfDump(instance: Instance, dump: string, format: 'custom' | 'plain.gz'): Promise<DumpedTimescale> {
  const rows = (schema: string, table: string) => dumpCatalogRows(instance, dump, format, schema, table);
  // TimescaleDB's own hypertables (compressed data, materialisations) live in its internal schemas.
  const hypertables = (await rows('_timescaledb_catalog', 'hypertable')).filter((h) => !h.schema_name!.startsWith('_timescaledb'));
  const chunks = (await rows('_timescaledb_catalog', 'chunk')).filter((c) => c.dropped !== 't');
  const facts: DumpedTimescale = { hypertables: {}, aggregates: [], jobs: 0 };
  for (const h of hypertables) {
    const own = chunks.filter((c) => c.hypertable_id === h.id);
    facts.hypertables[`${h.schema_name}.${h.table_name}`] = { chunks: own.length, compressedChunks: own.filter((c) => c.compressed_chunk_id !== '\\N').length };
  }
  facts.aggregates = (await rows('_timescaledb_catalog', 'continuous_agg')).map((a) => `${a.user_view_schema}.${a.user_view_name}`);
  facts.jobs = (await rows('_timescaledb_config', 'bgw_job')).filter((j) => Number(j.id) >= 1000).length;
  return facts;
}

/**
 * The TimescaleDB version that wrote the dump: its catalog's metadata keeps
 * it (the key timescaledb_version, which TimescaleDB itself compares when the
 * dump is restored). Undefined for a dump without it: no TimescaleDB, or a
 * version that did not keep it.
 */
export async function timescaleVersionOfDump(instance: Instance, dump: string, format: 'custom' | 'plain.gz'): Promise<string | undefined> {
  const rows = await dumpCatalogRows(instance, dump, format, '_timescaledb_catalog', 'metadata');
  const version = rows.find((row) => row.key === 'timescaledb_version')?.value;
  return version && /^\d+\.\d+\.\d+/.test(version) ? version : undefined;
}
