/**
 * `restore-drill fingerprint`: what a database holds at the moment of its
 * backup, written beside the dump for a drill to compare the restore with.
 * With a command after `--` (pg_dump --snapshot={snapshot} ...), the command
 * runs inside the exported snapshot the fingerprint is read in, so both see
 * the same moment however busy the database is. The sidecar is written only
 * when the command succeeded, atomically: a failed backup leaves no sidecar
 * that vouches for it. With --drill, the `sameAsBackup` queries of those
 * drill files are read in the same snapshot, for the drill to compare.
 */
import { SNAPSHOT_PLACEHOLDER, fingerprintInSnapshot } from '../checks/source-fingerprint.js';
import type { QuerySpec } from '../checks/team.js';
import { loadDrills } from '../drill/load.js';
import { CommandError, errorMessage, EXIT, InputError } from '../errors.js';
import { runCommand, TOOL_TIMEOUT_MS } from '../exec/command.js';
import { connectLikeLibpq } from '../pg/client.js';
import { writeFileAtomically } from '../support/files.js';
import type { Io } from './io.js';

/** The `sameAsBackup` queries of the drill files named, once each; one name with two texts is an input error. */
async function queriesToRecord(paths: readonly string[]): Promise<QuerySpec[]> {
  const queries = new Map<string, QuerySpec & { file: string }>();
  for (const { file, spec } of await loadDrills(paths)) {
    for (const query of spec.queries.filter((q) => 'sameAsBackup' in q.expect)) {
      const seen = queries.get(query.name);
      if (seen && seen.sql !== query.sql) {
        throw new InputError('USAGE', `fingerprint: the query ${query.name} has one text in ${seen.file} and another in ${file}; give one of them another name`);
      }
      queries.set(query.name, { ...query, file });
    }
  }
  if (queries.size === 0) throw new InputError('USAGE', `fingerprint: --drill ${paths.join(', ')} has no query with expect: { sameAsBackup: true }, so there is nothing to record for it; leave --drill out`);
  return [...queries.values()];
}

export async function fingerprintCommand(command: string[], values: Record<string, unknown>, io: Io): Promise<number> {
  const out = values.out as string | undefined;
  if (!out) throw new InputError('USAGE', 'fingerprint: name the file to write with --out, e.g. --out /backups/market.dump.fingerprint.json');
  if (command.length && !command.some((arg) => arg.includes(SNAPSHOT_PLACEHOLDER))) {
    throw new InputError('USAGE', `fingerprint: the command after -- must take the snapshot, e.g. pg_dump --snapshot=${SNAPSHOT_PLACEHOLDER} ...; without ${SNAPSHOT_PLACEHOLDER} it would dump another moment`);
  }
  // Read before connecting: a drill file with a mistake stops the backup script before it dumps anything.
  const drillFiles = (values.drill as string[] | undefined) ?? [];
  const queries = drillFiles.length ? await queriesToRecord(drillFiles) : [];
  let client;
  try {
    client = await connectLikeLibpq(values.dbname as string | undefined);
  } catch (error) {
    throw new InputError('USAGE', `fingerprint: cannot connect (${values.dbname ? '--dbname' : 'PGHOST, PGPORT, PGUSER, PGDATABASE'}): ${errorMessage(error)}; pass --dbname URL or set the PG* variables`);
  }
  try {
    const during = command.length
      ? async (snapshot: string) => {
          const [file, ...args] = command.map((arg) => arg.replaceAll(SNAPSHOT_PLACEHOLDER, snapshot));
          const result = await runCommand(file!, args, {}, { timeoutMs: TOOL_TIMEOUT_MS, allowFailure: true });
          if (result.stdout) io.out(result.stdout.trimEnd());
          if (result.failed) throw new CommandError(`fingerprint: ${file} failed (exit ${result.exitCode ?? 'none'}); no fingerprint written:\n${result.stderr.trim()}`, result.exitCode ?? undefined, result.stderr);
        }
      : undefined;
    const fingerprint = await fingerprintInSnapshot(client, during, queries);
    await writeFileAtomically(out, `${JSON.stringify(fingerprint, null, 2)}\n`);
    const tables = Object.entries(fingerprint.state.tables);
    const unreadable = tables.filter(([, t]) => 'error' in t).map(([name]) => name);
    const failed = Object.entries(fingerprint.queries ?? {}).filter(([, q]) => 'error' in q);
    io.err(
      `${out}: ${tables.length} tables of ${fingerprint.database} at ${fingerprint.takenAt}` +
        (fingerprint.snapshot ? `, in the snapshot ${command[0]} used (${fingerprint.snapshot})` : ', no dump shared its snapshot') +
        (unreadable.length ? `; could not read ${unreadable.join(', ')} (a drill will call them unknown)` : '') +
        (queries.length ? `; ${queries.length} sameAsBackup quer${queries.length === 1 ? 'y' : 'ies'} recorded` : '') +
        (failed.length ? `, of which ${failed.map(([name, q]) => `${name} failed (${(q as { error: string }).error})`).join(', ')}: a drill will call ${failed.length === 1 ? 'it' : 'them'} unknown` : ''),
    );
    return EXIT.pass;
  } finally {
    await client.end().catch(() => undefined);
  }
}

