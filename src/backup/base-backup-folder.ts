/**
 * A tar-format base backup folder, however it was made (the harness's
 * pg_basebackup, the team's script, a copy of production's): base.tar.gz,
 * pg_wal.tar.gz and backup_manifest, and a SHA256SUMS where one was written.
 * What a restore needs from it is read from the folder itself.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Instance } from '../engines/types.js';
import { BackupIntegrityError } from '../errors.js';
import type { ArtifactFile, BackupArtifact } from '../model/artifact.js';
import { sha256File } from '../support/sha256.js';
import type { IntegrityCheck } from './method.js';
import { verifyBaseBackup } from './pg-basebackup.js';
import { verifyFolderSums } from './sidecars.js';

export const BASE_BACKUP_FILES = ['base.tar.gz', 'pg_wal.tar.gz', 'backup_manifest'] as const;

/** The WAL segment an LSN ends in, as pg_walfile_name names it (the segment holding the byte before it). */
export function segmentOf(lsn: string, timeline: number, segmentBytes: number): string {
  const [hi, lo] = lsn.split('/').map((part) => BigInt(`0x${part}`));
  const segment = ((hi! << 32n) + lo! - 1n) / BigInt(segmentBytes);
  const perId = 0x1_0000_0000n / BigInt(segmentBytes);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(segment / perId)}${hex(segment % perId)}`;
}

/** The facts of an artifact a base backup folder gives: its files and digests, and the WAL range its manifest records. */
export async function describeBaseBackup(folder: string, segmentBytes: number): Promise<Pick<BackupArtifact, 'path' | 'sidecar' | 'files' | 'sizeBytes' | 'sha256' | 'wal'>> {
  const hasSums = await stat(join(folder, 'SHA256SUMS')).then(() => true, () => false);
  const files: ArtifactFile[] = [];
  for (const name of [...BASE_BACKUP_FILES, ...(hasSums ? ['SHA256SUMS'] : [])]) {
    const path = join(folder, name);
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new BackupIntegrityError(`${folder}: ${name} is missing; a tar-format base backup has ${BASE_BACKUP_FILES.join(', ')}`);
    files.push({ name, sizeBytes: info.size, sha256: await sha256File(path) });
  }
  const manifest = JSON.parse(await readFile(join(folder, 'backup_manifest'), 'utf8')) as { 'WAL-Ranges': Array<{ Timeline: number; 'Start-LSN': string; 'End-LSN': string }> };
  const range = manifest['WAL-Ranges'][0]!;
  return {
    path: folder,
    sidecar: hasSums ? join(folder, 'SHA256SUMS') : '',
    files,
    sizeBytes: files.reduce((n, f) => n + f.sizeBytes, 0),
    sha256: files.find((f) => f.name === 'backup_manifest')!.sha256,
    wal: { timeline: range.Timeline, startLsn: range['Start-LSN'], endLsn: range['End-LSN'], endSegment: segmentOf(range['End-LSN'], range.Timeline, segmentBytes), segmentBytes },
  };
}

/** Its SHA256SUMS where it has one, then pg_verifybackup against its manifest where commands can still run beside the server. */
export function baseBackupChain(artifact: BackupArtifact, instance: Instance, besideServer: boolean): IntegrityCheck[] {
  return [
    ...(artifact.sidecar ? [{ check: 'SHA256SUMS', run: async () => (await verifyFolderSums(artifact.path), `${artifact.files.length - 1} files match`) }] : []),
    ...(besideServer ? [{ check: 'pg_verifybackup', run: () => verifyBaseBackup(instance, artifact.path) }] : []),
  ];
}
