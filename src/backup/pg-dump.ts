/**
 * Logical backup with pg_dump, in custom format (the runbooks' daily dump) or
 * as gzip-compressed plain SQL (`pg_dump | gzip > x.sql.gz`, restored with
 * `gunzip -c | psql`), with a SHA-256 sidecar written beside it.
 */
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Instance } from '../engines/types.js';
import type { ArtifactOf, BackupArtifact } from '../model/artifact.js';
import { oneOf } from '../support/fields.js';
import { sha256File } from '../support/sha256.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { defineMethod, generations, type IntegrityCheck } from './method.js';
import { sizeOf, stampedName } from './naming.js';
import { verifySidecar, writeSidecar } from './sidecars.js';

const DUMP_FORMATS = ['custom', 'plain.gz'] as const;
export type DumpFormat = (typeof DUMP_FORMATS)[number];

const detail = z.strictObject({
  database: z.string().describe('The database dumped.'),
  partial: z.strictObject({ exitCode: z.number().nullable(), destinationBytes: z.number() }).optional().describe('Set when the dump did not finish (a full destination): how it ended and how much room it had.'),
});

declare module '../model/artifact.js' {
  interface BackupDetails {
    pg_dump: z.output<typeof detail>;
  }
}

/** Dumps `database` into the instance's backup folder and writes the sidecar. */
export async function dump(instance: Instance, database: string, format: DumpFormat, name = database, extra: string[] = []): Promise<ArtifactOf<'pg_dump'>> {
  const path = join(instance.backupDir, stampedName(name, format === 'custom' ? 'dump' : 'sql.gz'));
  const formatArgs = format === 'custom' ? ['--format=custom'] : ['--format=plain', '--compress=6'];
  await instance.runPgTool('pg_dump', [...formatArgs, ...extra, `--file=${path}`, `--dbname=${database}`], { timeoutMs: TOOL_TIMEOUT_MS });
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

/**
 * The chain of a dump file, whoever made it: its sidecar (when one was
 * written), then for a custom archive `pg_restore --list` (the table of
 * contents) and a full read with `pg_restore --file=/dev/null` (--list never
 * reads the data); for plain SQL, `gzip -t`.
 */
export function dumpChain(instance: Instance, path: string, format: string, withSidecar: boolean): IntegrityCheck[] {
  const sidecar: IntegrityCheck[] = withSidecar ? [{ check: 'sha256 sidecar', run: async () => `matches ${await verifySidecar(path)}` }] : [];
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
    format: oneOf(DUMP_FORMATS).default('custom').describe('custom archive, or gzip-compressed plain SQL.'),
    generations,
  }),
  detail,
  features: ['damageable-file', 'harness-dump'],
  label: (spec) => `pg_dump (${spec.format})`,
  tools: () => ['pg_dump', 'pg_restore'],
  take: async (ctx, spec) => [await dump(ctx.primary, ctx.database, spec.format)],
  integrityChain: (artifact, instance) => dumpChain(instance, artifact.path, artifact.format, true),
  dataFile: (artifact: BackupArtifact) => artifact.path,
  rewriteChecksums: async (artifact: BackupArtifact) => void (await writeSidecar(artifact.path, await sha256File(artifact.path))),
});
