/**
 * Physical backup: pg_basebackup in tar format, compressed, with the WAL it
 * needs streamed alongside, its manifest checked by pg_verifybackup, and every
 * file digested into SHA256SUMS. Continuous WAL archiving, configured on the
 * instance from its start, carries the changes made after it.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Instance } from '../engines/instance.js';
import { stampedName, type BackupArtifact } from './artifact.js';
import { verifyFolderSums, writeFolderSums } from './checksum.js';

/** postgresql.conf settings that archive every WAL segment into the instance's archive folder. */
export function archiveSettings(archiveDir: string, archiveTimeoutMs: number, archiveCommand?: string): Record<string, string> {
  return {
    wal_level: 'replica',
    archive_mode: 'on',
    // Never overwrite a segment already archived: a second copy hides the first's loss.
    archive_command: `'${archiveCommand ?? `test ! -f ${archiveDir}/%f && cp %p ${archiveDir}/%f`}'`,
    archive_timeout: `'${Math.max(1, Math.round(archiveTimeoutMs / 1000))}s'`,
    max_wal_senders: '10',
  };
}

interface ManifestRange {
  Timeline: number;
  'Start-LSN': string;
  'End-LSN': string;
}

/** Unpacks a tar-format base backup into a new data folder on the host: base.tar.gz, and the streamed WAL into pg_wal. */
export async function unpackBaseBackup(instance: Instance, backupDir: string, dataDir: string): Promise<void> {
  await instance.runHost('tar', ['-xzf', join(backupDir, 'base.tar.gz'), '-C', dataDir]);
  await mkdir(join(dataDir, 'pg_wal'), { recursive: true });
  await instance.runHost('tar', ['-xzf', join(backupDir, 'pg_wal.tar.gz'), '-C', join(dataDir, 'pg_wal')]);
}

/**
 * pg_verifybackup reads a plain backup folder (tar support came in PostgreSQL
 * 18), so the backup is unpacked into a scratch folder beside it, checked
 * against its manifest, WAL included, and the scratch folder removed. All of
 * it runs beside the server, so the files belong to the user pg_verifybackup
 * runs as.
 */
export async function verifyBaseBackup(instance: Instance, backupDir: string): Promise<string> {
  const scratch = `${backupDir}.verify`;
  await instance.exec('mkdir', ['-m', '0700', '-p', join(scratch, 'pg_wal')]);
  try {
    await instance.exec('tar', ['-xzf', join(backupDir, 'base.tar.gz'), '-C', scratch]);
    await instance.exec('tar', ['-xzf', join(backupDir, 'pg_wal.tar.gz'), '-C', join(scratch, 'pg_wal')]);
    await instance.exec('cp', [join(backupDir, 'backup_manifest'), scratch]);
    const result = await instance.runTool('pg_verifybackup', [scratch]);
    return result.stdout.trim();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export async function baseBackup(instance: Instance): Promise<BackupArtifact> {
  const path = join(instance.backupDir, stampedName('base', ''));
  await instance.runTool(
    'pg_basebackup',
    ['--pgdata', path, '--format=tar', '--gzip', '--wal-method=stream', '--checkpoint=fast', '--manifest-checksums=SHA256', '--label=restore-drill'],
    { timeoutMs: 6 * 3_600_000 },
  );
  const verified = await verifyBaseBackup(instance, path);
  const manifest = JSON.parse(await readFile(join(path, 'backup_manifest'), 'utf8')) as { 'WAL-Ranges': ManifestRange[] };
  const range = manifest['WAL-Ranges'][0]!;
  const client = await instance.connect('postgres');
  const wal = await client
    .query<{ bytes: string; segment: string }>(
      `select setting as bytes, pg_walfile_name($1::pg_lsn) as segment from pg_settings where name = 'wal_segment_size'`,
      [range['End-LSN']],
    )
    .finally(() => client.end());
  const { sidecar, files } = await writeFolderSums(path);
  const listing = files.find((f) => f.name === 'backup_manifest')!;
  return {
    method: 'pg_basebackup',
    format: 'tar.gz',
    path,
    sidecar,
    files,
    sizeBytes: files.reduce((n, f) => n + f.sizeBytes, 0),
    sha256: listing.sha256,
    tool: await instance.toolVersion('pg_basebackup'),
    detail: {
      timeline: range.Timeline,
      startLsn: range['Start-LSN'],
      endLsn: range['End-LSN'],
      endSegment: wal.rows[0]!.segment,
      walSegmentBytes: Number(wal.rows[0]!.bytes),
      verified,
    },
  };
}

/**
 * Before a base backup is trusted: every file against the SHA256SUMS written
 * once pg_verifybackup had passed it. (The instance may be gone by now, and
 * with it the only place its own pg_verifybackup can run.)
 */
export function checkBaseBackup(backup: BackupArtifact): Promise<void> {
  return verifyFolderSums(backup.path);
}
