/**
 * A backup the team already has: last night's production dump, named by path
 * or by a pattern whose newest match is taken. It is only ever read: it is
 * copied into the drill's own backup folder (where the instance, a container
 * too, can reach it) with the `.sha256` and `.fingerprint.json` beside it, and
 * every check and the restore work on the copy. The team's checksum then
 * proves the copy is what their backup job wrote.
 */
import { chmod, copyFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { BackupIntegrityError } from '../errors.js';
import type { ArtifactOf } from '../model/artifact.js';
import { sha256File } from '../support/sha256.js';
import { defineMethod } from './method.js';
import { dumpChain } from './pg-dump.js';
import { formatOf } from './script.js';
import { fingerprintPath, sidecarPath } from './sidecars.js';

const detail = z.strictObject({
  pattern: z.string().describe('The path or pattern the drill file gave.'),
  source: z.string().describe('The team\'s backup the copy was made from.'),
  candidates: z.number().describe('How many files matched the pattern.'),
  modifiedAt: z.string().describe('When the team\'s backup was last written: its age is the data a loss of production now would cost.'),
});

declare module '../model/artifact.js' {
  interface BackupDetails {
    existing: z.output<typeof detail>;
  }
}

/** `*` and `?` in the file name (not in folders), as a shell matches them. */
function matcher(pattern: string): RegExp | undefined {
  if (!/[*?]/.test(pattern)) return undefined;
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}

/** The file the pattern names: itself, or the newest match; how many matched. */
async function newest(pattern: string): Promise<{ path: string; candidates: number }> {
  const folder = dirname(pattern);
  const name = matcher(basename(pattern));
  if (/[*?]/.test(folder)) throw new BackupIntegrityError(`${pattern}: only the file name may hold * or ?, not the folders`);
  if (!name) {
    const info = await stat(pattern).catch(() => undefined);
    if (!info?.isFile()) throw new BackupIntegrityError(`${pattern}: no such backup file`);
    return { path: pattern, candidates: 1 };
  }
  const entries = await readdir(folder).catch((error: NodeJS.ErrnoException) => {
    throw new BackupIntegrityError(`${folder}: cannot list the backup folder (${error.code ?? error.message})`);
  });
  const matches = entries.filter((entry) => name.test(entry) && formatOf(entry));
  if (matches.length === 0) throw new BackupIntegrityError(`${pattern}: no backup matches (a .dump, .backup, .pgdump or .sql.gz file) in ${folder}`);
  const dated = await Promise.all(matches.map(async (entry) => ({ path: join(folder, entry), mtime: (await stat(join(folder, entry))).mtimeMs })));
  dated.sort((a, b) => b.mtime - a.mtime || b.path.localeCompare(a.path));
  return { path: dated[0]!.path, candidates: matches.length };
}

/** Copies a file beside the backup when the team wrote one; whether it was there. */
async function copyIfPresent(from: string, to: string): Promise<boolean> {
  try {
    await copyFile(from, to);
    // The team's file may be private to its owner; the copy must be readable by the server's user, which restores it.
    await chmod(to, 0o644);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new BackupIntegrityError(`${from}: cannot be read (${(error as Error).message})`);
  }
}

export const existing = defineMethod({
  method: 'existing',
  summary: "a backup the team already has (a custom or .sql.gz dump, the newest matching a pattern), copied and only read; its .sha256 and fingerprint are used when beside it",
  family: 'logical',
  schema: z.strictObject({
    method: z.literal('existing'),
    path: z
      .string()
      .min(1)
      .describe('The dump, or a pattern such as /backups/market_*.dump whose newest match is drilled; relative to the drill file.'),
  }),
  detail,
  features: ['made-elsewhere'],
  label: (spec) => `existing ${basename(spec.path)}`,
  tools: () => ['pg_restore'],
  take: async (ctx, spec): Promise<Array<ArtifactOf<'existing'>>> => {
    const { path: source, candidates } = await newest(spec.path);
    const copy = join(ctx.primary.backupDir, basename(source));
    await copyIfPresent(source, copy);
    const hasSidecar = await copyIfPresent(sidecarPath(source), sidecarPath(copy));
    const hasFingerprint = await copyIfPresent(fingerprintPath(source), fingerprintPath(copy));
    const { size: sizeBytes, mtime } = await stat(source);
    const sha256 = await sha256File(copy);
    return [
      {
        method: 'existing',
        format: formatOf(source) ?? 'custom',
        path: copy,
        sidecar: hasSidecar ? sidecarPath(copy) : '',
        files: [{ name: basename(copy), sizeBytes, sha256 }],
        sizeBytes,
        sha256,
        tool: 'the team\'s backup job',
        ...(hasFingerprint ? { fingerprint: fingerprintPath(copy) } : {}),
        detail: { pattern: spec.path, source, candidates, modifiedAt: mtime.toISOString() },
      },
    ];
  },
  integrityChain: (artifact, instance) => dumpChain(instance, artifact.path, artifact.format, artifact.sidecar !== ''),
});
