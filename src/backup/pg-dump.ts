/**
 * Logical backup with pg_dump in custom format (the runbooks' daily dump),
 * with a SHA-256 sidecar written beside it.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Instance } from '../engines/instance.js';
import { sha256File, writeSidecar } from './checksum.js';

export interface BackupArtifact {
  method: 'pg_dump';
  format: 'custom';
  database: string;
  path: string;
  sidecar: string;
  sizeBytes: number;
  sha256: string;
  /** The pg_dump binary and version that made it. */
  tool: string;
}

/** `quant_trading_20260122_020000.dump`, the runbooks' naming. */
export function stampedName(database: string, extension: string, at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  return `${database}_${stamp}.${extension}`;
}

export async function dumpCustom(instance: Instance, database: string): Promise<BackupArtifact> {
  const path = join(instance.backupDir, stampedName(database, 'dump'));
  await instance.runTool('pg_dump', ['--format=custom', `--file=${path}`, `--dbname=${database}`], {
    timeoutMs: 6 * 3_600_000,
  });
  const sha256 = await sha256File(path);
  const sidecar = await writeSidecar(path, sha256);
  return {
    method: 'pg_dump',
    format: 'custom',
    database,
    path,
    sidecar,
    sizeBytes: (await stat(path)).size,
    sha256,
    tool: await instance.toolVersion('pg_dump'),
  };
}
