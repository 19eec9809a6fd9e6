/**
 * Physical backup: pg_basebackup in tar format, compressed, with the WAL it
 * needs streamed alongside, its manifest checked by pg_verifybackup, and every
 * file digested into SHA256SUMS. Continuous WAL archiving, configured on the
 * instance from its start, carries the changes made after it.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Instance } from '../engines/types.js';
import type { ArtifactOf, BackupArtifact } from '../model/artifact.js';
import { withClient } from '../pg/client.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { archiveTimeout, defineMethod, generations } from './method.js';
import { stampedName } from './naming.js';
import { verifyFolderSums, writeFolderSums } from './sidecars.js';

const detail = z.strictObject({
  verified: z.string().describe('What pg_verifybackup said when the backup was taken.'),
});

declare module '../model/artifact.js' {
  interface BackupDetails {
    pg_basebackup: z.output<typeof detail>;
  }
}

interface ManifestRange {
  Timeline: number;
  'Start-LSN': string;
  'End-LSN': string;
}

/** The file of a base backup that holds the cluster's data. */
const DATA_FILE = 'base.tar.gz';

/** Unpacks a tar-format base backup into a new data folder on the host: base.tar.gz, and the streamed WAL into pg_wal. */
export async function unpackBaseBackup(instance: Instance, backupDir: string, dataDir: string): Promise<void> {
  await instance.runOnHost('tar', ['-xzf', join(backupDir, DATA_FILE), '-C', dataDir], { timeoutMs: TOOL_TIMEOUT_MS });
  await mkdir(join(dataDir, 'pg_wal'), { recursive: true });
  await instance.runOnHost('tar', ['-xzf', join(backupDir, 'pg_wal.tar.gz'), '-C', join(dataDir, 'pg_wal')], { timeoutMs: TOOL_TIMEOUT_MS });
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
  await instance.runBesideServer('mkdir', ['-m', '0700', '-p', join(scratch, 'pg_wal')]);
  try {
    await instance.runBesideServer('tar', ['-xzf', join(backupDir, DATA_FILE), '-C', scratch], { timeoutMs: TOOL_TIMEOUT_MS });
    await instance.runBesideServer('tar', ['-xzf', join(backupDir, 'pg_wal.tar.gz'), '-C', join(scratch, 'pg_wal')], { timeoutMs: TOOL_TIMEOUT_MS });
    await instance.runBesideServer('cp', [join(backupDir, 'backup_manifest'), scratch]);
    const result = await instance.runPgTool('pg_verifybackup', [scratch], { timeoutMs: TOOL_TIMEOUT_MS });
    return result.stdout.trim();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function baseBackup(instance: Instance): Promise<ArtifactOf<'pg_basebackup'>> {
  const path = join(instance.backupDir, stampedName('base', ''));
  await instance.runPgTool(
    'pg_basebackup',
    ['--pgdata', path, '--format=tar', '--gzip', '--wal-method=stream', '--checkpoint=fast', '--manifest-checksums=SHA256', '--label=restore-drill'],
    { timeoutMs: TOOL_TIMEOUT_MS },
  );
  const verified = await verifyBaseBackup(instance, path);
  const manifest = JSON.parse(await readFile(join(path, 'backup_manifest'), 'utf8')) as { 'WAL-Ranges': ManifestRange[] };
  const range = manifest['WAL-Ranges'][0]!;
  const wal = await withClient(
    () => instance.connect('postgres'),
    async (client) =>
      (
        await client.query<{ bytes: string; segment: string }>(
          `select setting as bytes, pg_walfile_name($1::pg_lsn) as segment from pg_settings where name = 'wal_segment_size'`,
          [range['End-LSN']],
        )
      ).rows[0]!,
  );
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
    wal: { timeline: range.Timeline, startLsn: range['Start-LSN'], endLsn: range['End-LSN'], endSegment: wal.segment, segmentBytes: Number(wal.bytes) },
    detail: { verified },
  };
}

export const pgBasebackup = defineMethod({
  method: 'pg_basebackup',
  summary: 'pg_basebackup (tar, gzip, WAL streamed) plus continuous WAL archiving; checked with SHA256SUMS and pg_verifybackup',
  family: 'physical',
  schema: z.strictObject({ method: z.literal('pg_basebackup'), archiveTimeout, generations }),
  detail,
  features: ['damageable-file', 'wal-archive-folder'],
  label: () => 'pg_basebackup (tar.gz) + WAL archive',
  tools: () => ['pg_basebackup', 'pg_verifybackup'],
  instanceOptions: (spec) => ({ walArchive: { timeoutMs: spec.archiveTimeout } }),
  take: async (ctx) => [await baseBackup(ctx.primary)],
  integrityChain: (artifact, instance, besideServer) => [
    // Every file against the SHA256SUMS written once pg_verifybackup had passed it
    // (the instance may be gone by now, and with it the only place pg_verifybackup can run).
    { check: 'SHA256SUMS', run: async () => (await verifyFolderSums(artifact.path), `${artifact.files.length} files match`) },
    ...(besideServer ? [{ check: 'pg_verifybackup', run: () => verifyBaseBackup(instance, artifact.path) }] : []),
  ],
  dataFile: (artifact: BackupArtifact) => join(artifact.path, DATA_FILE),
  rewriteChecksums: async (artifact: BackupArtifact) => void (await writeFolderSums(artifact.path)),
});
