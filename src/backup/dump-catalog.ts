/**
 * Rows of a catalog table as a custom-format dump holds them, read with
 * pg_restore without restoring anything: TimescaleDB keeps in its own
 * catalog which tables are hypertables and which version wrote the dump.
 */
import type { Instance } from '../engines/types.js';

/** The rows of `schema.table`'s COPY data in the dump, each as column → text (\N for null), or none when it holds none. */
export async function catalogRows(instance: Instance, dump: string, schema: string, table: string): Promise<Array<Record<string, string>>> {
  const { stdout } = await instance.runPgTool('pg_restore', ['--data-only', `--schema=${schema}`, `--table=${table}`, '--file=-', dump]);
  const header = new RegExp(`^COPY ${schema}\\.${table} \\(([^)]*)\\) FROM stdin;$`, 'm').exec(stdout);
  if (!header) return [];
  const columns = header[1]!.split(',').map((c) => c.trim());
  const body = stdout.slice(header.index + header[0].length + 1);
  // The data ends at a line of its own: \.
  const end = body.startsWith('\\.') ? 0 : body.indexOf('\n\\.');
  return body
    .slice(0, end)
    .split('\n')
    .filter(Boolean)
    .map((line) => Object.fromEntries(line.split('\t').map((value, i) => [columns[i]!, value])));
}

/**
 * The TimescaleDB version that wrote the dump: its catalog's metadata keeps
 * it (the key timescaledb_version, which TimescaleDB itself compares when the
 * dump is restored). Undefined for a dump without it: no TimescaleDB, or a
 * version that did not keep it.
 */
export async function timescaleVersionOfDump(instance: Instance, dump: string): Promise<string | undefined> {
  const rows = await catalogRows(instance, dump, '_timescaledb_catalog', 'metadata');
  const version = rows.find((row) => row.key === 'timescaledb_version')?.value;
  return version && /^\d+\.\d+\.\d+/.test(version) ? version : undefined;
}
