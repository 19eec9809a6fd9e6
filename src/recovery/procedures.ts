/**
 * Recovery procedures as the runbooks do them, done right: every backup is
 * checked against its SHA-256 sidecar before it is trusted.
 *  - restore-table: one table back into the live database (`pg_restore --clean`
 *    with a list that carries its indexes, constraints and sequences);
 *  - restore-database: a new database, `pg_restore -j N`, wrapped in
 *    timescaledb_pre_restore()/post_restore() when the archive has TimescaleDB;
 *  - restart: start the killed server on its own data (crash recovery);
 *  - none: nothing, to show what an unrecovered fault looks like.
 */
import { writeFile } from 'node:fs/promises';
import type { BackupArtifact } from '../backup/pg-dump.js';
import { verifySidecar } from '../backup/checksum.js';
import { quoteIdent } from '../checks/state.js';
import type { Instance } from '../engines/instance.js';
import type { DrillSpec } from '../drill/spec.js';
import { UnsupportedError } from '../errors.js';
import { hasTimescale, parseSchemaScript, selectList, tablePrefixes } from './toc.js';

export interface RecoveryResult {
  /** The database the procedure restored into; the checks verify the drill's database. */
  database: string;
  summary: string;
  detail: Record<string, unknown>;
}

const RESTORE_TIMEOUT_MS = 6 * 3_600_000;

async function archiveList(instance: Instance, dump: string): Promise<string> {
  return (await instance.runTool('pg_restore', ['--list', dump])).stdout;
}

async function restoreTable(instance: Instance, backup: BackupArtifact, database: string, table: string, tableOnly: boolean): Promise<RecoveryResult> {
  const list = await archiveList(instance, backup.path);
  if (hasTimescale(list)) {
    throw new UnsupportedError(
      `restore-table from a pg_dump archive of a TimescaleDB database is not supported: a hypertable's rows live in ` +
        `chunk tables that pg_restore --table does not select. Use restore-database into a scratch database instead.`,
    );
  }
  if (tableOnly) {
    await instance.runTool('pg_restore', ['--clean', '--if-exists', `--table=${table}`, `--dbname=${database}`, backup.path], {
      timeoutMs: RESTORE_TIMEOUT_MS,
    });
    return { database, summary: `pg_restore --table=${table} --clean into ${database} (table and rows only)`, detail: { table, tableOnly } };
  }
  const script = (await instance.runTool('pg_restore', ['--schema-only', '--file=-', backup.path])).stdout;
  const { list: selection, selected } = selectList(list, tablePrefixes(parseSchemaScript(script), 'public', table));
  const listFile = `${backup.path}.${table}.list`;
  await writeFile(listFile, selection);
  await instance.runTool(
    'pg_restore',
    ['--clean', '--if-exists', '--exit-on-error', `--use-list=${listFile}`, `--dbname=${database}`, backup.path],
    { timeoutMs: RESTORE_TIMEOUT_MS },
  );
  return {
    database,
    summary: `pg_restore --clean of ${table} with ${selected.length} archive entries into ${database}`,
    detail: { table, entries: selected },
  };
}

async function restoreDatabase(instance: Instance, backup: BackupArtifact, database: string, jobs: number): Promise<RecoveryResult> {
  const timescale = hasTimescale(await archiveList(instance, backup.path));
  const admin = await instance.connect('postgres');
  try {
    await admin.query(`drop database if exists ${quoteIdent(database)} with (force)`);
    await admin.query(`create database ${quoteIdent(database)}`);
  } finally {
    await admin.end();
  }
  if (timescale) {
    const client = await instance.connect(database);
    try {
      await client.query('create extension if not exists timescaledb');
      await client.query('select timescaledb_pre_restore()');
    } finally {
      await client.end();
    }
  }
  await instance.runTool('pg_restore', [`--jobs=${jobs}`, '--exit-on-error', `--dbname=${database}`, backup.path], {
    timeoutMs: RESTORE_TIMEOUT_MS,
  });
  const client = await instance.connect(database);
  try {
    if (timescale) await client.query('select timescaledb_post_restore()');
    await client.query('analyze');
  } finally {
    await client.end();
  }
  return {
    database,
    summary: `new database ${database}, pg_restore -j ${jobs}${timescale ? ' inside timescaledb_pre_restore()/post_restore()' : ''}`,
    detail: { jobs, timescale },
  };
}

export async function recover(instance: Instance, drill: DrillSpec, backup: BackupArtifact): Promise<RecoveryResult> {
  const recovery = drill.recovery;
  if (recovery.procedure === 'restart') {
    await instance.start();
    return { database: drill.database, summary: 'server started again on its own data: crash recovery', detail: {} };
  }
  if (recovery.procedure === 'none') {
    return { database: drill.database, summary: 'no recovery (the drill shows the damage as it stands)', detail: {} };
  }
  // "If corrupted, use the previous backup" starts here: nothing is restored from an artifact that fails its checksum.
  const sha256 = await verifySidecar(backup.path);
  const database = recovery.database ?? drill.database;
  const result =
    recovery.procedure === 'restore-table'
      ? await restoreTable(
          instance,
          backup,
          database,
          recovery.table ?? (drill.fault.type === 'drop-table' ? drill.fault.table : ''),
          recovery.tableOnly,
        )
      : await restoreDatabase(instance, backup, database, recovery.jobs);
  return { ...result, detail: { ...result.detail, verifiedSha256: sha256 } };
}
