/**
 * Logical backup with pg_dump, in custom format (the runbooks' daily dump) or
 * as gzip-compressed plain SQL (`pg_dump | gzip > x.sql.gz`, restored with
 * `gunzip -c | psql`), with a SHA-256 sidecar written beside it.
 */
import { basename, join } from 'node:path';
import type { Instance } from '../engines/instance.js';
import { sizeOf, stampedName, type BackupArtifact } from './artifact.js';
import { sha256File, writeSidecar } from './checksum.js';

export type DumpFormat = 'custom' | 'plain.gz';

export async function dump(instance: Instance, database: string, format: DumpFormat, name = database, extra: string[] = []): Promise<BackupArtifact> {
  const path = join(instance.backupDir, stampedName(name, format === 'custom' ? 'dump' : 'sql.gz'));
  const formatArgs = format === 'custom' ? ['--format=custom'] : ['--format=plain', '--compress=6'];
  await instance.runTool('pg_dump', [...formatArgs, ...extra, `--file=${path}`, `--dbname=${database}`], {
    timeoutMs: 6 * 3_600_000,
  });
  const sha256 = await sha256File(path);
  const sidecar = await writeSidecar(path, sha256);
  const sizeBytes = await sizeOf(path);
  return {
    method: 'pg_dump',
    format,
    path,
    sidecar,
    files: [{ name: basename(path), sizeBytes, sha256 }],
    sizeBytes,
    sha256,
    tool: await instance.toolVersion('pg_dump'),
    detail: { database },
  };
}
