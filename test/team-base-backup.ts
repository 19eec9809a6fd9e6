/**
 * A team's base backup and WAL archive, made the way a production server
 * makes them (pg_basebackup in tar format with its manifest, archive_command
 * filling a folder), for the tests that drill backups made elsewhere:
 * 30 rows in the backup, 15 more written after it that only the WAL holds.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { NativeEngine } from '../src/engines/native/engine.js';
import { tempDir } from './helpers.js';

export interface TeamBaseBackup {
  /** The base backup's folder and the WAL archive's, copies the team owns. */
  base: string;
  wal: string;
  /** The segment holding the first rows written after the backup. */
  afterBackupSegment: string;
}

export async function makeTeamBaseBackup(engine: NativeEngine, into: string): Promise<TeamBaseBackup> {
  const production = await engine.startInstance('production', tempDir('physical-logs'), { walArchive: { timeoutMs: 1000 } });
  try {
    const admin = await production.connect('postgres');
    await admin.query('create database ledger');
    const client = await production.connect('ledger');
    await client.query("create table accounts (id int primary key, name text not null); insert into accounts select g, 'account ' || g from generate_series(1, 30) g");
    const base = join(production.backupDir, 'base');
    await production.runPgTool('pg_basebackup', ['--pgdata', base, '--format=tar', '--gzip', '--wal-method=stream', '--checkpoint=fast', '--manifest-checksums=SHA256']);
    await client.query("insert into accounts select g, 'account ' || g from generate_series(31, 40) g");
    const afterBackupSegment = (await admin.query<{ name: string }>('select pg_walfile_name(pg_switch_wal()) as name')).rows[0]!.name;
    await client.query("insert into accounts select g, 'account ' || g from generate_series(41, 45) g");
    const last = (await admin.query<{ name: string }>('select pg_walfile_name(pg_switch_wal()) as name')).rows[0]!.name;
    for (let i = 0; i < 100; i++) {
      const archived = (await admin.query<{ wal: string | null }>('select last_archived_wal as wal from pg_stat_archiver')).rows[0]!.wal;
      if (archived && archived >= last) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await client.end();
    await admin.end();
    cpSync(base, join(into, 'base'), { recursive: true });
    cpSync(production.archiveDir, join(into, 'wal'), { recursive: true });
    return { base: join(into, 'base'), wal: join(into, 'wal'), afterBackupSegment };
  } finally {
    await production.destroy({ keepFiles: false });
  }
}
