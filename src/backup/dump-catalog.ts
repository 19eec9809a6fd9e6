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

/**
 * The TimescaleDB version that wrote the dump: its catalog's metadata keeps
 * it (the key timescaledb_version, which TimescaleDB itself compares when the
 * dump is restored). Undefined for a dump without it: no TimescaleDB, or a
 * version that did not keep it.
 */
export async function timescaleVersionOfDump(instance: Instance, dump: string, format: 'custom' | 'plain.gz'): Promise<string | undefined> {
  const rows = format === 'custom' ? await catalogRows(instance, dump, '_timescaledb_catalog', 'metadata') : await plainCatalogRows(dump, '_timescaledb_catalog', 'metadata');
  const version = rows.find((row) => row.key === 'timescaledb_version')?.value;
  return version && /^\d+\.\d+\.\d+/.test(version) ? version : undefined;
}
