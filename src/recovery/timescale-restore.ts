/**
 * Restoring a dump of a TimescaleDB database the documented way, into an
 * empty database:
 *  1. the extension created at the dump's own version (a restore across
 *     versions is the classic silent loss); a target that lacks that version
 *     is refused before anything is restored, naming both;
 *  2. timescaledb_pre_restore();
 *  3. the schema and TimescaleDB's catalog single-threaded, in archive order
 *     (a parallel restore of the catalog breaks its foreign keys), then the
 *     rest of the data and the indexes with `pg_restore -j N`; a plain SQL dump
 *     goes through psql whole;
 *  4. timescaledb_post_restore(), always, also when the restore failed, and
 *     the state it left recorded;
 *  5. ALTER EXTENSION timescaledb UPDATE when the target's default is newer.
 */
import { writeFile } from 'node:fs/promises';
import type { Instance } from '../engines/types.js';
import { errorMessage, RecoveryError } from '../errors.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import type { BackupArtifact } from '../model/artifact.js';
import { withClient } from '../pg/client.js';
import { availableVersions, installedVersion, restoringFlag } from '../pg/timescaledb.js';
import { archiveList } from './archive.js';

/** What the restore did about TimescaleDB, for the journal. */
export interface TimescaleRestore {
  /** The extension version in the dump (recorded when it was taken), when known. */
  dump?: string;
  /** The versions the target server offers, and its default. */
  available: string[];
  /** The version the extension was created at, and the one it ended at. */
  createdAt: string;
  endedAt: string;
  /** timescaledb.restoring once post_restore() ran: off unless something went wrong. */
  restoringAfter: string;
  steps: string[];
}

/** Data entries of TimescaleDB's catalog: they go in first, one table at a time, in archive order. */
const CATALOG_DATA = /^\d+; \d+ \d+ TABLE DATA (_timescaledb_catalog|_timescaledb_config) /;
const DATA = /^\d+; \d+ \d+ (TABLE DATA|SEQUENCE SET|BLOBS|BLOB|LARGE OBJECT) /;

function entries(list: string, keep: (line: string) => boolean): string {
  return `${list.split('\n').filter((line) => /^\d+;/.test(line) && keep(line)).join('\n')}\n`;
}

export async function restoreTimescaleDump(instance: Instance, database: string, backup: BackupArtifact, jobs: number, ownership: readonly string[] = []): Promise<TimescaleRestore> {
  const connect = () => instance.connect(database);
  const offered = await withClient(connect, availableVersions);
  const dump = backup.timescaledb;
  if (dump && !offered.versions.includes(dump)) {
    throw new RecoveryError(
      `the dump was taken with TimescaleDB ${dump}, and the restore target offers ${offered.versions.join(', ') || 'no TimescaleDB'} ` +
        `(default ${offered.default ?? 'none'}): restoring it into another version is the classic silent loss, so nothing was restored. ` +
        `Install TimescaleDB ${dump} beside ${offered.default ?? 'the target'}, restore, then ALTER EXTENSION timescaledb UPDATE (TimescaleDB's documented path).`,
    );
  }
  const createdAt = dump ?? offered.default ?? 'default';
  const steps: string[] = [];
  await withClient(connect, async (client) => {
    await client.query(dump ? `create extension timescaledb version '${dump.replace(/'/g, "''")}'` : 'create extension timescaledb');
    await client.query('select timescaledb_pre_restore()');
  });
  steps.push(`create extension timescaledb${dump ? ` version ${dump}` : ''}`, 'timescaledb_pre_restore()');
  let failure: unknown;
  try {
    if (backup.format === 'plain.gz') {
      await instance.runBesideServer('bash', ['-c', 'set -o pipefail; gunzip -c "$1" | psql -X --quiet -v ON_ERROR_STOP=1 --dbname="$2"', 'bash', backup.path, database], {
        timeoutMs: TOOL_TIMEOUT_MS,
      });
      steps.push('gunzip -c | psql');
    } else {
      const list = await archiveList(instance, backup.path);
      const catalogList = `${backup.path}.timescale-catalog.list`;
      const dataList = `${backup.path}.timescale-data.list`;
      await writeFile(catalogList, entries(list, (line) => CATALOG_DATA.test(line)));
      await writeFile(dataList, entries(list, (line) => DATA.test(line) && !CATALOG_DATA.test(line)));
      const restore = (args: string[]) =>
        instance.runPgTool('pg_restore', ['--exit-on-error', ...ownership, ...args, `--dbname=${database}`, backup.path], { timeoutMs: TOOL_TIMEOUT_MS });
      await restore(['--section=pre-data']);
      await restore([`--use-list=${catalogList}`]);
      steps.push('pg_restore of the schema, then of the TimescaleDB catalog, single-threaded');
      await restore([`--jobs=${jobs}`, `--use-list=${dataList}`]);
      await restore([`--jobs=${jobs}`, '--section=post-data']);
      steps.push(`pg_restore -j ${jobs} of the other data, then of the indexes and constraints`);
    }
  } catch (error) {
    failure = error;
  }
  // Always: a database left in restore mode keeps its jobs stopped and sends new rows to the root table.
  const restoringAfter = await withClient(connect, async (client) => {
    await client.query('select timescaledb_post_restore()');
    return restoringFlag(client);
  });
  steps.push('timescaledb_post_restore()');
  if (failure) throw new RecoveryError(`${errorMessage(failure)}\n(timescaledb_post_restore() ran after the failure; timescaledb.restoring is now ${restoringAfter})`);
  let endedAt = createdAt;
  if (dump && offered.default && dump !== offered.default) {
    // The update must be the first command of its session, before the old library is loaded.
    await withClient(connect, (client) => client.query('alter extension timescaledb update'));
    steps.push(`alter extension timescaledb update (${dump} to ${offered.default})`);
  }
  endedAt = (await withClient(connect, installedVersion)) ?? 'none';
  return { ...(dump ? { dump } : {}), available: offered.versions, createdAt, endedAt, restoringAfter, steps };
}
