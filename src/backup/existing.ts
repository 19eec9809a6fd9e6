/**
 * A backup the team already has: last night's production dump, named by path
 * or by a pattern whose newest match is taken. It is only ever read: it is
 * copied into the drill's own backup folder (where the instance, a container
 * too, can reach it) with the `.sha256` and `.fingerprint.json` beside it, and
 * every check and the restore work on the copy. The team's checksum then
 * proves the copy is what their backup job wrote.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { BackupIntegrityError } from '../errors.js';
import type { ArtifactOf } from '../model/artifact.js';
import { timescaleVersionOfDump } from './dump-catalog.js';
import { sha256File } from '../support/sha256.js';
import { defineMethod } from './method.js';
import { dumpChain } from './pg-dump.js';
import { formatOf } from './script.js';
import { parseS3Url, type ObjectStore } from './object-storage.js';
import { bucketPrefix, fetchReadable, localFolder, type Place } from './places.js';
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

/** The place a drill file's path names, and the file name or pattern within it. */
function placeOf(path: string, store: ObjectStore): { place: Place; pattern: string } {
  if (path.startsWith('s3://')) {
    const { bucket, key } = parseS3Url(path);
    const cut = key.lastIndexOf('/') + 1;
    if (/[*?]/.test(key.slice(0, cut))) throw new BackupIntegrityError(`${path}: only the object's name may hold * or ?, not its prefix`);
    return { place: bucketPrefix(store, bucket, key.slice(0, cut)), pattern: key.slice(cut) };
  }
  if (/[*?]/.test(dirname(path))) throw new BackupIntegrityError(`${path}: only the file name may hold * or ?, not the folders`);
  return { place: localFolder(dirname(path)), pattern: basename(path) };
}

/** The backup the pattern names: itself, or the newest match; how many matched. */
async function newest(place: Place, pattern: string, path: string): Promise<{ name: string; modifiedAt: string; candidates: number }> {
  const glob = matcher(pattern);
  const matches = await place.list((name) => (glob ? glob.test(name) && formatOf(name) !== undefined : name === pattern));
  if (matches.length === 0) {
    throw new BackupIntegrityError(glob ? `${path}: no backup matches (a .dump, .backup, .pgdump or .sql.gz file)` : `${path}: no such backup`);
  }
  matches.sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt) || b.name.localeCompare(a.name));
  return { ...matches[0]!, candidates: matches.length };
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
      .describe('The dump, or a pattern such as /backups/market_*.dump whose newest match is drilled; relative to the drill file; or in object storage, s3://bucket/nightly/market_*.dump.'),
    endpoint: z.url().optional().describe('s3:// paths: an S3-compatible endpoint (MinIO, Ceph); AWS when absent. Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...), never the drill file.'),
    region: z.string().min(1).optional().describe("s3:// paths: the bucket's region (default: the AWS CLI's)."),
  }),
  detail,
  features: ['made-elsewhere'],
  label: (spec) => `existing ${basename(spec.path)}`,
  tools: () => ['pg_restore'],
  take: async (ctx, spec): Promise<Array<ArtifactOf<'existing'>>> => {
    const { place, pattern } = placeOf(spec.path, { endpoint: spec.endpoint, region: spec.region });
    const found = await newest(place, pattern, spec.path);
    const copy = join(ctx.primary.backupDir, found.name);
    if (!(await fetchReadable(place, found.name, copy))) throw new BackupIntegrityError(`${place.name(found.name)}: gone before it could be copied`);
    const hasSidecar = await fetchReadable(place, basename(sidecarPath(found.name)), sidecarPath(copy));
    const hasFingerprint = await fetchReadable(place, basename(fingerprintPath(found.name)), fingerprintPath(copy));
    const sizeBytes = (await stat(copy)).size;
    const sha256 = await sha256File(copy);
    const format = formatOf(found.name) ?? 'custom';
    // The TimescaleDB version that wrote it, from its own catalog: the restore must start at that version.
    // A dump that cannot be read here is the integrity chain's to judge, not this step's.
    const timescaledb = await timescaleVersionOfDump(ctx.primary, copy, format).catch(() => undefined);
    return [
      {
        method: 'existing',
        format,
        path: copy,
        sidecar: hasSidecar ? sidecarPath(copy) : '',
        files: [{ name: basename(copy), sizeBytes, sha256 }],
        sizeBytes,
        sha256,
        tool: "the team's backup job",
        ...(hasFingerprint ? { fingerprint: fingerprintPath(copy) } : {}),
        ...(timescaledb ? { timescaledb } : {}),
        written: { at: found.modifiedAt, by: `the ${spec.path.startsWith('s3://') ? "object's" : "file's"} modification time` },
        detail: { pattern: spec.path, source: place.name(found.name), candidates: found.candidates, modifiedAt: found.modifiedAt },
      },
    ];
  },
  integrityChain: (artifact, instance) => dumpChain(instance, artifact.path, artifact.format, artifact.sidecar !== ''),
});
