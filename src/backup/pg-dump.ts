/**
 * Logical backup with pg_dump: custom format (the runbooks' daily dump),
 * directory format dumped in parallel (`-Fd -j 4`), tar, or gzip-compressed
 * plain SQL (`pg_dump | gzip > x.sql.gz`, restored with `gunzip -c | psql`).
 * A file gets a SHA-256 sidecar beside it; a directory dump a SHA256SUMS of
 * every file in it.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Instance } from '../engines/types.js';
import type { ArtifactFile, ArtifactOf, BackupArtifact } from '../model/artifact.js';
import { oneOf } from '../support/fields.js';
import { sha256File } from '../support/sha256.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { defineMethod, generations, type IntegrityCheck } from './method.js';
import { sizeOf, stampedName } from './naming.js';
import { verifyFolderSums, verifySidecar, writeFolderSums, writeSidecar } from './sidecars.js';

const DUMP_FORMATS = ['custom', 'directory', 'tar', 'plain.gz'] as const;
export type DumpFormat = (typeof DUMP_FORMATS)[number];

/** The formats pg_restore reads (all but plain SQL). */
export const ARCHIVE_FORMATS = ['custom', 'directory', 'tar'] as const;

const FORMAT_ARGS: Record<DumpFormat, string[]> = {
  custom: ['--format=custom'],
  directory: ['--format=directory'],
  tar: ['--format=tar'],
  'plain.gz': ['--format=plain', '--compress=6'],
};
const EXTENSION: Record<DumpFormat, string> = { custom: 'dump', directory: '', tar: 'tar', 'plain.gz': 'sql.gz' };

/** pg_restore cannot restore a tar archive in parallel: how many jobs a restore of this format can use. */
export function restoreJobs(format: string, jobs: number): number {
  return format === 'tar' ? 1 : jobs;
}

/** A dump's checksums, written anew: a sidecar beside a file, a SHA256SUMS inside a directory dump. */
export async function writeChecksums(path: string, format: string): Promise<{ sidecar: string; files: ArtifactFile[]; sizeBytes: number; sha256: string }> {
  if (format === 'directory') {
    const { sidecar, files } = await writeFolderSums(path);
    return { sidecar, files, sizeBytes: files.reduce((sum, f) => sum + f.sizeBytes, 0), sha256: await sha256File(sidecar) };
  }
  const sha256 = await sha256File(path);
  const sizeBytes = await sizeOf(path);
  return { sidecar: await writeSidecar(path, sha256), files: [{ name: basename(path), sizeBytes, sha256 }], sizeBytes, sha256 };
}

/** The file of a dump whose damage matters most: the file itself, or a directory dump's largest table data. */
async function dataFileOf(path: string, format: string): Promise<string> {
  if (format !== 'directory') return path;
  let largest = { path: '', size: -1 };
  for (const name of await readdir(path)) {
    if (!/^\d+\.dat(\.gz)?$/.test(name)) continue;
    const { size } = await stat(join(path, name));
    if (size > largest.size) largest = { path: join(path, name), size };
  }
  return largest.path || join(path, 'toc.dat');
}

const detail = z.strictObject({
  database: z.string().describe('The database dumped.'),
  jobs: z.number().optional().describe('A directory dump: the parallel pg_dump jobs.'),
  partial: z.strictObject({ exitCode: z.number().nullable(), destinationBytes: z.number() }).optional().describe('Set when the dump did not finish (a full destination): how it ended and how much room it had.'),
});

declare module '../model/artifact.js' {
  interface BackupDetails {
    pg_dump: z.output<typeof detail>;
  }
}

/** Dumps `database` into the instance's backup folder (in parallel for a directory dump) and writes its checksums. */
export async function dump(
  instance: Instance,
  database: string,
  format: DumpFormat,
  options: { name?: string; extra?: string[]; jobs?: number } = {},
): Promise<ArtifactOf<'pg_dump'>> {
  const path = join(instance.backupDir, stampedName(options.name ?? database, EXTENSION[format]));
  const jobs = format === 'directory' && (options.jobs ?? 1) > 1 ? [`--jobs=${options.jobs}`] : [];
  await instance.runPgTool('pg_dump', [...FORMAT_ARGS[format], ...jobs, ...(options.extra ?? []), `--file=${path}`, `--dbname=${database}`], { timeoutMs: TOOL_TIMEOUT_MS });
  const { sidecar, files, sizeBytes, sha256 } = await writeChecksums(path, format);
  return {
    method: 'pg_dump',
    format,
    path,
    sidecar,
    files,
    sizeBytes,
    sha256,
    tool: await instance.toolVersion('pg_dump'),
    detail: { database, ...(jobs.length ? { jobs: options.jobs } : {}) },
  };
}

/**
 * The chain of a dump file, whoever made it: its sidecar (when one was
 * written), then for a custom archive `pg_restore --list` (the table of
 * contents) and a full read with `pg_restore --file=/dev/null` (--list never
 * reads the data); for plain SQL, `gzip -t`.
 */
export function dumpChain(instance: Instance, path: string, format: string, withSidecar: boolean): IntegrityCheck[] {
  const sidecar: IntegrityCheck[] = !withSidecar
    ? []
    : format === 'directory'
      ? [{ check: 'SHA256SUMS', run: async () => ((await verifyFolderSums(path)), 'every file matches its SHA-256') }]
      : [{ check: 'sha256 sidecar', run: async () => `matches ${await verifySidecar(path)}` }];
  if (format === 'plain.gz') {
    return [...sidecar, { check: 'gzip -t', run: async () => (await instance.runBesideServer('gzip', ['-t', path], { timeoutMs: TOOL_TIMEOUT_MS })).stderr.trim() || 'gzip stream intact' }];
  }
  return [
    ...sidecar,
    {
      check: 'pg_restore --list',
      run: async () => `${(await instance.runPgTool('pg_restore', ['--list', path])).stdout.split('\n').filter((l) => /^\d+;/.test(l)).length} archive entries readable`,
    },
    { check: 'pg_restore --file=/dev/null', run: async () => ((await instance.runPgTool('pg_restore', ['--file=/dev/null', path], { timeoutMs: TOOL_TIMEOUT_MS })), 'every entry read and decompressed') },
  ];
}

export const pgDump = defineMethod({
  method: 'pg_dump',
  summary: 'pg_dump of the database, custom format or gzip-compressed plain SQL, with a .sha256 sidecar',
  family: 'logical',
  schema: z.strictObject({
    method: z.literal('pg_dump'),
    format: oneOf(DUMP_FORMATS)
      .default('custom')
      .describe('custom archive; directory (dumped with `jobs` in parallel, pg_dump -Fd -j N); tar; or gzip-compressed plain SQL.'),
    jobs: z.number().int().min(1).max(64).default(1).describe('directory format: parallel pg_dump jobs (the runbooks\' -Fd -j 4).'),
    generations,
  }),
  detail,
  features: ['damageable-file', 'harness-dump'],
  label: (spec) => `pg_dump (${spec.format}${spec.format === 'directory' && spec.jobs > 1 ? `, -j ${spec.jobs}` : ''})`,
  tools: () => ['pg_dump', 'pg_restore'],
  take: async (ctx, spec) => [await dump(ctx.primary, ctx.database, spec.format, { jobs: spec.jobs })],
  integrityChain: (artifact, instance) => dumpChain(instance, artifact.path, artifact.format, true),
  dataFile: (artifact: BackupArtifact) => dataFileOf(artifact.path, artifact.format),
  rewriteChecksums: async (artifact: BackupArtifact) => void (await writeChecksums(artifact.path, artifact.format)),
});
