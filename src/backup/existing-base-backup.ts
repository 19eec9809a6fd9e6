/**
 * A base backup the team already has, with its WAL archive: a tar-format
 * `pg_basebackup` folder (base.tar.gz, pg_wal.tar.gz, backup_manifest, and a
 * SHA256SUMS where the team writes one) and the folder its archive_command
 * fills, each on a local path or under an s3:// prefix. Only ever read: both
 * are copied into the drill's instance (the backup into its backup folder,
 * the WAL into its archive), and point-in-time recovery replays from there.
 * What the restore needs to know is read from the backup itself: the WAL
 * range from its manifest, the major from PG_VERSION, the replay floor
 * (max_connections, ...) from its pg_control.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { BackupIntegrityError } from '../errors.js';
import type { Instance } from '../engines/types.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import type { ArtifactOf } from '../model/artifact.js';
import { replayFloor } from '../pg/control.js';
import { defineMethod } from './method.js';
import { BASE_BACKUP_FILES, baseBackupChain, describeBaseBackup } from './base-backup-folder.js';
import { fetchReadable, folderPlace } from './places.js';

const detail = z.strictObject({
  source: z.string().describe('The team\'s base backup folder the copy was made from.'),
  walSource: z.string().describe('The team\'s WAL archive.'),
  walSegments: z.number().describe('How many archived WAL files were copied.'),
});

declare module '../model/artifact.js' {
  interface BackupDetails {
    'existing-base-backup': z.output<typeof detail>;
  }
}

/** A WAL segment's file name, a timeline history file, or a backup history file. */
const WAL_FILE = /^[0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?$|^[0-9A-F]{8}\.history$/;
const SEGMENT = /^[0-9A-F]{24}$/;

/** The major version and the replay floor, read from the backup without unpacking it all. */
async function readControl(instance: Instance, folder: string): Promise<{ major: number; settings: Record<string, number> }> {
  const base = join(folder, 'base.tar.gz');
  const version = (await instance.runOnHost('tar', ['-xzOf', base, 'PG_VERSION'], { timeoutMs: TOOL_TIMEOUT_MS })).stdout.trim();
  const scratch = `${folder}.control`;
  await instance.runBesideServer('mkdir', ['-m', '0700', '-p', scratch]);
  try {
    await instance.runBesideServer('tar', ['-xzf', base, '-C', scratch, 'global/pg_control'], { timeoutMs: TOOL_TIMEOUT_MS });
    const control = (await instance.runPgTool('pg_controldata', [scratch])).stdout;
    return { major: Number(version.split('.')[0]), settings: replayFloor(control) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export const existingBaseBackup = defineMethod({
  method: 'existing-base-backup',
  summary: "a base backup the team already has (pg_basebackup tar format) and its WAL archive, local or s3://, copied and only read; restored to the end of the archive",
  family: 'physical',
  schema: z.strictObject({
    method: z.literal('existing-base-backup'),
    path: z.string().min(1).describe('The base backup\'s folder (base.tar.gz, pg_wal.tar.gz, backup_manifest), relative to the drill file, or s3://bucket/base/2026-11-21/.'),
    wal: z.string().min(1).describe('The WAL archive folder its archive_command fills, or s3://bucket/wal/.'),
    endpoint: z.url().optional().describe('s3:// paths: an S3-compatible endpoint; AWS when absent. Credentials from the environment, never the drill file.'),
    region: z.string().min(1).optional().describe("s3:// paths: the bucket's region."),
  }),
  detail,
  features: ['made-elsewhere'],
  label: (spec) => `existing base backup ${basename(spec.path)} + WAL archive`,
  tools: () => ['pg_verifybackup', 'pg_checksums'],
  take: async (ctx, spec): Promise<Array<ArtifactOf<'existing-base-backup'>>> => {
    const store = { endpoint: spec.endpoint, region: spec.region };
    const backup = folderPlace(spec.path, store);
    const folder = join(ctx.primary.backupDir, basename(spec.path.replace(/\/+$/, '')) || 'base');
    await mkdir(folder, { recursive: true });
    for (const name of BASE_BACKUP_FILES) {
      if (!(await fetchReadable(backup, name, join(folder, name)))) {
        throw new BackupIntegrityError(`${backup.name(name)}: missing; a tar-format base backup has ${BASE_BACKUP_FILES.join(', ')}`);
      }
    }
    await fetchReadable(backup, 'SHA256SUMS', join(folder, 'SHA256SUMS'));
    // The WAL goes where the instance's restore_command reads its archive.
    const archive = folderPlace(spec.wal, store);
    const walFiles = await archive.list((name) => WAL_FILE.test(name));
    if (!walFiles.some((f) => SEGMENT.test(f.name))) throw new BackupIntegrityError(`${spec.wal}: no archived WAL segment; point-in-time recovery needs the archive`);
    await mkdir(ctx.primary.archiveDir, { recursive: true });
    for (const file of walFiles) await fetchReadable(archive, file.name, join(ctx.primary.archiveDir, file.name));
    const segments = walFiles.filter((f) => SEGMENT.test(f.name));
    const segmentBytes = Math.max(...(await Promise.all(segments.map(async (f) => (await stat(join(ctx.primary.archiveDir, f.name))).size))));
    const newest = segments.reduce((a, b) => (b.modifiedAt > a.modifiedAt ? b : a));
    const control = await readControl(ctx.primary, folder);
    return [
      {
        method: 'existing-base-backup',
        format: 'tar.gz',
        ...(await describeBaseBackup(folder, segmentBytes)),
        tool: "the team's backup job",
        serverMajor: control.major,
        replaySettings: control.settings,
        // The archive's newest segment is the newest data a restore can bring back.
        written: { at: newest.modifiedAt, by: `the newest archived WAL segment, ${newest.name}` },
        detail: { source: backup.name(''), walSource: archive.name(''), walSegments: walFiles.length },
      },
    ];
  },
  integrityChain: baseBackupChain,
});
