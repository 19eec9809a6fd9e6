/**
 * What a backup produced, as the journal and the report show it: where it
 * is, how big, and the SHA-256 of every file, so any later change is caught
 * before the backup is trusted.
 */
import { stat } from 'node:fs/promises';

export type BackupMethod = 'pg_dump' | 'pg_basebackup' | 'pgbackrest' | 'standby' | 'script';

export interface ArtifactFile {
  name: string;
  sizeBytes: number;
  sha256: string;
}

export interface BackupArtifact {
  method: BackupMethod;
  /** custom (pg_dump), tar.gz (pg_basebackup), full/incr (pgBackRest). */
  format: string;
  /** The dump file, or the backup's folder. */
  path: string;
  /** The sha256sum-format file that lists every file's digest (empty for a standby, which has no files). */
  sidecar: string;
  files: ArtifactFile[];
  sizeBytes: number;
  /** The file's digest, or the digest of the sidecar that lists a folder's files. */
  sha256: string;
  /** The tool binary and version that made it. */
  tool: string;
  /** Method-specific facts: WAL range, backup label, database. */
  detail: Record<string, unknown>;
}

export async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** `quant_trading_20260122_020000.dump`, the runbooks' naming. */
export function stampedName(prefix: string, extension: string, at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  return extension ? `${prefix}_${stamp}.${extension}` : `${prefix}_${stamp}`;
}
