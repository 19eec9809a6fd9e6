/**
 * What the source database held at the very moment of its backup: per table
 * its rows, content fingerprint and latest time, and every object by its
 * definition, read in the snapshot the dump itself was taken in (an exported
 * snapshot pg_dump imports with --snapshot). A restore compared with it is
 * compared with the source at the backup, every row of every table, not a
 * sample and not a later state. The team's `sameAsBackup` queries are read
 * in that snapshot too, so a drill of the backup compares their values.
 */
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { z } from 'zod';
import type { DatabaseState } from '../model/snapshot.js';
import type { CheckResult } from '../model/verdict.js';
import { errorMessage } from '../errors.js';
import { runContentChecks } from './content.js';
import { stateOf } from './snapshot.js';
import { firstValue, QUERY_TIMEOUT, type QuerySpec, type QueryValue } from './team.js';

/** /4: every schema of the team's read, rows hashed column by column in a chain (checks/snapshot.ts). */
const FINGERPRINT_FORMAT = 'restore-drill-fingerprint/4';
/** What an earlier format's file lacks, so a drill never compares it as if it were complete. */
const EARLIER_FORMATS: Record<string, string> = {
  'restore-drill-fingerprint/1': 'which hashed rows another way',
  'restore-drill-fingerprint/2': 'which read the public schema only',
  'restore-drill-fingerprint/3': 'which hashed each row as one record',
};

/** Where the command after `restore-drill fingerprint --` takes the exported snapshot's id. */
export const SNAPSHOT_PLACEHOLDER = '{snapshot}';

/** A team query as it was read at the backup: its text (a drill compares only the same text) and its value, or why it had none. */
type RecordedQuery = { sql: string; value: QueryValue } | { sql: string; error: string };

/** The sidecar file: written beside a dump (`<dump>.fingerprint.json`), read by a drill that restores it. */
export interface SourceFingerprint {
  format: typeof FINGERPRINT_FORMAT;
  takenAt: string;
  database: string;
  server: string;
  /** The exported snapshot the fingerprint and the dump were both taken in; absent when no dump shared it. */
  snapshot?: string;
  state: DatabaseState;
  /** The `sameAsBackup` queries of the drill files named with --drill, by name; absent when none were. */
  queries?: Record<string, RecordedQuery>;
}

const sidecarShape = z.object({
  format: z.literal(FINGERPRINT_FORMAT),
  takenAt: z.string(),
  database: z.string(),
  server: z.string(),
  snapshot: z.string().optional(),
  state: z.object({ tables: z.record(z.string(), z.unknown()), objects: z.object({ tables: z.array(z.string()) }).loose() }).loose(),
  queries: z.record(z.string(), z.union([z.object({ sql: z.string(), value: z.string().nullable() }), z.object({ sql: z.string(), error: z.string() })])).optional(),
});

/**
 * Opens a repeatable-read transaction, exports its snapshot, lets `during`
 * take the dump in it (pg_dump --snapshot), then reads the database in the
 * same snapshot. The transaction stays open until the end: an exported
 * snapshot lives only as long as its transaction.
 */
export async function fingerprintInSnapshot(client: pg.Client, during?: (snapshot: string) => Promise<void>, queries: readonly QuerySpec[] = []): Promise<SourceFingerprint> {
  await client.query('begin isolation level repeatable read read only');
  try {
    const { rows } = await client.query<{ snapshot: string; database: string; server: string; now: string }>(
      `select pg_export_snapshot() as snapshot, current_database() as database, current_setting('server_version') as server, now()::text as now`,
    );
    const { snapshot, database, server, now } = rows[0]!;
    await during?.(snapshot);
    const state = await stateOf(client, database, undefined, 'the source at the backup');
    const recorded = queries.length ? { queries: await queriesInSnapshot(client, queries) } : {};
    return { format: FINGERPRINT_FORMAT, takenAt: new Date(now).toISOString(), database, server, ...(during ? { snapshot } : {}), state, ...recorded };
  } finally {
    await client.query('rollback').catch(() => undefined);
  }
}

/**
 * Each query in the open snapshot, as a drill runs it on the restore: its
 * first value. One that fails is recorded with its error (a savepoint keeps
 * the snapshot's transaction going); the transaction is read-only, so a
 * query cannot write to the source.
 */
async function queriesInSnapshot(client: pg.Client, queries: readonly QuerySpec[]): Promise<Record<string, RecordedQuery>> {
  const recorded: Record<string, RecordedQuery> = {};
  // Set after the fingerprint, which reads every table whole and may take longer.
  await client.query(`set local statement_timeout = '${QUERY_TIMEOUT}'`);
  for (const query of queries) {
    await client.query('savepoint team_query');
    try {
      recorded[query.name] = { sql: query.sql, value: firstValue((await client.query({ text: query.sql, rowMode: 'array' })).rows) };
      await client.query('release savepoint team_query');
    } catch (error) {
      await client.query('rollback to savepoint team_query');
      recorded[query.name] = { sql: query.sql, error: errorMessage(error) };
    }
  }
  return recorded;
}

/**
 * A `sameAsBackup` query's value at the backup, as the sidecar beside it
 * recorded it (read once per drill, by readFingerprint); why there is none
 * otherwise (no sidecar, another text under that name, a query that failed
 * then), which leaves the check unknown.
 */
export function queryAtBackup(sidecar: { path: string; source: SourceFingerprint | { problem: string } } | undefined, query: QuerySpec): { value: QueryValue } | { error: string } {
  const take = 'take the fingerprint with `restore-drill fingerprint --drill FILE`, naming this drill file';
  if (!sidecar) return { error: `the backup has no fingerprint sidecar to hold it; ${take}` };
  const { path, source } = sidecar;
  if ('problem' in source) return { error: `${path}: ${source.problem}` };
  const recorded = source.queries?.[query.name];
  if (!recorded) return { error: `${path} holds no value for it; ${take}` };
  if (recorded.sql !== query.sql) return { error: `${path} holds another query under this name (${recorded.sql}); ${take} again` };
  if ('error' in recorded) return { error: `it failed at the backup: ${recorded.error}` };
  return { value: recorded.value };
}

/** A sidecar read from its file; the problem, in words, when it cannot be read or is not one. */
export async function readFingerprint(path: string): Promise<SourceFingerprint | { problem: string }> {
  try {
    return parseFingerprint(await readFile(path, 'utf8'));
  } catch (error) {
    return { problem: `cannot be read (${errorMessage(error)})` };
  }
}

/** Parses a sidecar; the problem, in words, when it is not one. */
export function parseFingerprint(text: string): SourceFingerprint | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON (${(error as Error).message})` };
  }
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof format === 'string' && Object.hasOwn(EARLIER_FORMATS, format))
    return { problem: `written by an earlier restore-drill (${format}), ${EARLIER_FORMATS[format]}; take it again with \`restore-drill fingerprint\`` };
  const parsed = sidecarShape.safeParse(json);
  if (!parsed.success) return { problem: `not a ${FINGERPRINT_FORMAT} file: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}` };
  return json as SourceFingerprint;
}

/**
 * The restored database against the source at the backup: every table the
 * source had, every row (the content checks over the whole table, not the
 * seeded part), and every definition. One check, naming each difference.
 */
function judgeAgainstSource(source: SourceFingerprint | { problem: string }, path: string, restored: DatabaseState, withoutOwners: boolean, only: string | undefined): CheckResult {
  const name = 'source-fingerprint';
  if ('problem' in source) return { name, verdict: 'unknown', summary: `${path}: ${source.problem}; the restore could not be compared with the source`, evidence: { path } };
  if (only !== undefined && !(only in source.state.tables)) {
    return { name, verdict: 'fail', summary: `the source at ${source.takenAt} had no table ${only}: the sidecar is of another database`, evidence: { path, tables: Object.keys(source.state.tables) } };
  }
  let expected: DatabaseState = { ...source.state, database: restored.database };
  if (withoutOwners) {
    // Restored without owners and grants on purpose: those definitions are the restore target's, not the source's.
    expected.objects = { ...expected.objects, definitions: withoutOwnership(expected.objects.definitions) };
    restored = { ...restored, objects: { ...restored.objects, definitions: withoutOwnership(restored.objects.definitions) } };
  }
  if (only !== undefined) {
    // One table restored on its own: it, its rows and its own objects are compared; the joins to tables not restored are not there by design.
    const foreign = foreignKeysToOthers(expected, only);
    expected = onlyTable(expected, only, foreign);
    restored = onlyTable(restored, only, foreign);
  }
  const results = runContentChecks(['schema', 'row-counts', 'fingerprint'], expected, restored);
  const failing = results.filter((r) => r.verdict !== 'pass');
  const tables = Object.keys(expected.tables).length;
  const evidence = { path, takenAt: source.takenAt, snapshot: source.snapshot ?? null, server: source.server, tables, ...(only ? { only } : {}) };
  const when = source.snapshot ? `in the dump's own snapshot (${source.snapshot})` : 'NOT in the dump\'s snapshot (taken apart from it: rows written meanwhile differ)';
  if (failing.length === 0) {
    const compared = only ? `the restored table ${only}, its rows and its own objects, equal the source` : 'every table and row equals the source';
    return { name, verdict: 'pass', summary: `${compared} at ${source.takenAt}, read ${when}: ${tables} tables`, evidence };
  }
  const verdict = failing.some((r) => r.verdict === 'fail') ? 'fail' : 'unknown';
  return { name, verdict, summary: `differs from the source at ${source.takenAt} (read ${when}): ${failing.map((r) => r.summary).join('; ')}`, evidence: { ...evidence, checks: failing } };
}

/** The constraints of `table` (by name) that reference another table, from its definitions. */
function foreignKeysToOthers(state: DatabaseState, table: string): Set<string> {
  const foreign = new Set<string>();
  for (const [key, definition] of Object.entries(state.objects.definitions)) {
    const constraint = key.startsWith(`constraint ${table}.`) ? key.slice(`constraint ${table}.`.length) : undefined;
    const target = /^FOREIGN KEY \(.*?\) REFERENCES (.+?)\(/.exec(definition)?.[1];
    if (constraint && target && target !== table) foreign.add(constraint);
  }
  return foreign;
}

/**
 * What of a database belongs to one table: its state, its indexes and
 * constraints (less its foreign keys to other tables), its sequences, and the
 * definitions of all these; not the database's other tables, views,
 * functions, schemas or extensions.
 */
function onlyTable(state: DatabaseState, table: string, foreign: ReadonlySet<string>): DatabaseState {
  const own = (object: string) => object.startsWith(`${table}.`) && !foreign.has(object.slice(table.length + 1).replace(/ \([a-z]\)$/, ''));
  const sequences = Object.fromEntries(Object.entries(state.objects.sequences).filter(([, sequence]) => sequence.table === table));
  const definitions = Object.fromEntries(
    Object.entries(state.objects.definitions).filter(([key]) => {
      const space = key.indexOf(' ');
      const [kind, object] = [key.slice(0, space), key.slice(space + 1)];
      if (['column', 'index', 'constraint', 'trigger'].includes(kind)) return own(object);
      if (kind === 'owner' || kind === 'grants') return object === table || object in sequences;
      return kind === 'sequence' && object in sequences;
    }),
  );
  return {
    ...state,
    tables: table in state.tables ? { [table]: state.tables[table]! } : {},
    objects: {
      tables: state.objects.tables.filter((t) => t === table),
      indexes: state.objects.indexes.filter(own),
      constraints: state.objects.constraints.filter(own),
      sequences,
      definitions,
    },
  };
}

function withoutOwnership(definitions: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(definitions).filter(([key]) => !key.startsWith('owner ') && !key.startsWith('grants ')));
}

/**
 * The check for a restore from a backup that came with a sidecar: the
 * restored database read whole, in one snapshot, against the sidecar (with
 * `only`, the one table a restore-table brought back). A sidecar that cannot
 * be read, or a database that cannot, is unknown.
 */
export async function compareWithSource(connect: () => Promise<pg.Client>, database: string, path: string, withoutOwners = false, only?: string): Promise<CheckResult> {
  const source = await readFingerprint(path);
  let client: pg.Client;
  try {
    client = await connect();
  } catch (error) {
    return { name: 'source-fingerprint', verdict: 'fail', summary: `the restored database ${database} cannot be reached: ${errorMessage(error)}`, evidence: { path } };
  }
  try {
    await client.query('begin isolation level repeatable read read only');
    const restored = await stateOf(client, database, undefined, 'after recovery');
    return judgeAgainstSource(source, path, restored, withoutOwners, only);
  } finally {
    await client.query('rollback').catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
