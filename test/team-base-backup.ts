/**
 * A team's base backup and WAL archive, made the way a production server
 * makes them (pg_basebackup in tar format with its manifest, archive_command
 * filling a folder), for the tests that drill backups made elsewhere:
 * 30 rows in the backup, 15 more written after it that only the WAL holds.
 * Asked to, it damages a page of another table on disk before the backup,
 * and takes the backup without checking checksums, as a tool that never
 * checks them would: the manifest then vouches for the damaged page.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { NativeEngine } from '../src/engines/native/engine.js';
import { flipBytes } from '../src/faults/corrupt-backup.js';
import type { Client } from 'pg';
import { tempDir } from './helpers.js';

export interface TeamBaseBackup {
  /** The base backup's folder and the WAL archive's, copies the team owns. */
  base: string;
  wal: string;
  /** The segment holding the first rows written after the backup. */
  afterBackupSegment: string;
  /** A moment after the 40th row committed and before the 41st: a recovery target time inside the archive. */
  after40: string;
}

/** Closes the current WAL segment and waits (up to 10 s) until the server's archive_command has archived it. */
export async function switchAndWaitArchived(admin: Client): Promise<void> {
  const last = (await admin.query<{ name: string }>('select pg_walfile_name(pg_switch_wal()) as name')).rows[0]!.name;
  for (let i = 0; i < 100; i++) {
    const archived = (await admin.query<{ wal: string | null }>('select last_archived_wal as wal from pg_stat_archiver')).rows[0]!.wal;
    if (archived && archived >= last) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The server's clock now, with a pause either side, so commits before and after it are apart from it. */
export async function momentBetween(admin: Client): Promise<string> {
  await new Promise((r) => setTimeout(r, 200));
  const at = (await admin.query<{ at: string }>('select now()::text as at')).rows[0]!.at;
  await new Promise((r) => setTimeout(r, 200));
  return at;
}

export async function makeTeamBaseBackup(engine: NativeEngine, into: string, { damagedPage = false } = {}): Promise<TeamBaseBackup> {
  const production = await engine.startInstance('production', tempDir('physical-logs'), { walArchive: { timeoutMs: 1000 } });
  try {
    let admin = await production.connect('postgres');
    await admin.query('create database ledger');
    let client = await production.connect('ledger');
    await client.query("create table accounts (id int primary key, name text not null); insert into accounts select g, 'account ' || g from generate_series(1, 30) g");
    if (damagedPage) {
      // A table nothing writes to after the backup, so no full-page image in the WAL mends its page on replay.
      await client.query("create table notes (id int, body text); insert into notes select g, repeat('note ', 20) from generate_series(1, 2000) g");
      const file = (await client.query<{ path: string }>("select pg_relation_filepath('notes') as path")).rows[0]!.path;
      await client.end();
      await admin.end();
      await production.stop();
      await flipBytes(join(production.dataDir!, file), 8192 + 4096, 16);
      await production.start();
      admin = await production.connect('postgres');
      client = await production.connect('ledger');
    }
    const base = join(production.backupDir, 'base');
    const verify = damagedPage ? ['--no-verify-checksums'] : [];
    await production.runPgTool('pg_basebackup', ['--pgdata', base, '--format=tar', '--gzip', '--wal-method=stream', '--checkpoint=fast', '--manifest-checksums=SHA256', ...verify]);
    await client.query("insert into accounts select g, 'account ' || g from generate_series(31, 40) g");
    const afterBackupSegment = (await admin.query<{ name: string }>('select pg_walfile_name(pg_switch_wal()) as name')).rows[0]!.name;
    const after40 = await momentBetween(admin);
    await client.query("insert into accounts select g, 'account ' || g from generate_series(41, 45) g");
    await switchAndWaitArchived(admin);
    await client.end();
    await admin.end();
    cpSync(base, join(into, 'base'), { recursive: true });
    cpSync(production.archiveDir, join(into, 'wal'), { recursive: true });
    return { base: join(into, 'base'), wal: join(into, 'wal'), afterBackupSegment, after40 };
  } finally {
    await production.destroy({ keepFiles: false });
  }
}
