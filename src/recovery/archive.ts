/** Reading a dump the way a restore needs to: its table of contents, and whether TimescaleDB is in it. */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Instance } from '../engines/types.js';
import type { BackupArtifact } from '../model/artifact.js';
import { hasTimescale } from '../pg/toc.js';

/** `pg_restore --list`: the archive's table of contents. */
export async function archiveList(instance: Instance, dump: string): Promise<string> {
  return (await instance.runPgTool('pg_restore', ['--list', dump])).stdout;
}

/** Whether a gzip-compressed plain SQL dump creates the timescaledb extension (pg_dump writes it near the top). */
async function plainHasTimescale(path: string): Promise<boolean> {
  let seen = '';
  for await (const chunk of createReadStream(path).pipe(createGunzip())) {
    seen = (seen + (chunk as Buffer).toString('utf8')).slice(-1_000_000);
    if (/CREATE EXTENSION IF NOT EXISTS timescaledb\b/.test(seen)) return true;
  }
  return false;
}

/** Whether the dump holds a TimescaleDB database, whoever made it. */
export async function dumpHasTimescale(instance: Instance, backup: BackupArtifact): Promise<boolean> {
  if (backup.timescaledb) return true;
  return backup.format === 'plain.gz' ? plainHasTimescale(backup.path) : hasTimescale(await archiveList(instance, backup.path));
}
