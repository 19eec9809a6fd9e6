/**
 * pgBackRest with its repository in the instance's archive folder, or in an
 * S3 bucket as the runbooks keep it: the server pushes WAL with
 * `archive-push`; the backup is a stanza, a full backup, some writes, then an
 * incremental on top; `verify` checks the repository. Restore goes into a new
 * data folder with `restore --type=time|lsn|xid|name`.
 *
 * S3 credentials are the AWS CLI's (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 * in the harness's environment) and are never written anywhere: the harness
 * hands them to its own pgBackRest runs as PGBACKREST_REPO1_S3_KEY(_SECRET),
 * and the server, which inherits the environment, to archive-push and
 * archive-get through the shell that runs archive_command and
 * restore_command, which name the variables, not their values.
 */
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import type { Instance } from '../engines/types.js';
import { BackupIntegrityError, InternalError } from '../errors.js';
import type { ArtifactFile, ArtifactOf, BackupArtifact } from '../model/artifact.js';
import type { RecoveryTargetKind } from '../model/moments.js';
import { sleep } from '../support/clock.js';
import { sha256File } from '../support/sha256.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { archiveTimeout, defineMethod } from './method.js';
import { sizeOf } from './naming.js';

const detail = z.strictObject({
  sets: z.array(
    z.strictObject({
      label: z.string(),
      type: z.string(),
      prior: z.string().nullable(),
      sizeBytes: z.number(),
      repoBytes: z.number(),
      lsn: z.strictObject({ start: z.string(), stop: z.string() }),
    }),
  ),
  latest: z.string(),
  verified: z.string(),
});

declare module '../model/artifact.js' {
  interface BackupDetails {
    pgbackrest: z.output<typeof detail>;
  }
}

const STANZA = 'drill';
const PGBACKREST = 'pgbackrest';

export const s3Schema = z
  .strictObject({
    bucket: z.string().min(1),
    endpoint: z.string().min(1).describe('The S3 host, e.g. s3.eu-west-1.amazonaws.com or a MinIO host (no scheme); pgBackRest verifies its certificate by this host name, so an IP address needs verifyTls: false.'),
    port: z.number().int().min(1).max(65535).default(443),
    region: z.string().min(1).default('us-east-1'),
    path: z.string().startsWith('/').default('/restore-drill').describe("The folder in the bucket; each drill's repository goes into its own subfolder."),
    uriStyle: z.enum(['host', 'path']).default('host').describe('path for most S3-compatible servers (MinIO, Ceph).'),
    caFile: z.string().min(1).optional().describe('A CA certificate file to verify the endpoint\'s TLS certificate with (a private CA, a test server).'),
    verifyTls: z.boolean().default(true).describe('false: accept any certificate (repo1-storage-verify-tls=n), for a test server only.'),
  })
  .describe("A repository in S3 (repo1-type=s3) instead of the instance's folder; credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, never the drill file. Native engine only.");
type S3Repository = z.output<typeof s3Schema>;

/** The credentials, by the names pgBackRest reads, from the shell's environment at the moment a command runs. */
const S3_CREDENTIALS_FROM_ENV = 'PGBACKREST_REPO1_S3_KEY="$AWS_ACCESS_KEY_ID" PGBACKREST_REPO1_S3_KEY_SECRET="$AWS_SECRET_ACCESS_KEY"';

/** Where a repository is: a folder, or a path in a bucket. */
export type RepositoryPlace = { folder: string } | { s3: S3Repository };

/** The repository each configured instance's pgBackRest commands use: its stanza, and its folder or its URL in a bucket (the struck instance restores from it, in this process). */
const repositories = new WeakMap<Instance, { stanza: string; folder?: string; s3Url?: string }>();
/** The instances whose repository in a bucket the harness made for the drill: the only ones it may delete. */
const ownInBucket = new WeakSet<Instance>();

function configPath(instance: Pick<Instance, 'archiveDir'>): string {
  return join(instance.archiveDir, 'pgbackrest.conf');
}

function repoPath(instance: Pick<Instance, 'archiveDir'>): string {
  return join(instance.archiveDir, 'repo');
}

/**
 * Writes the configuration where pgBackRest runs, beside the server, for a
 * repository and stanza. Paths are the server's own (serverSide); the
 * working folders (log, lock, spool) are the instance's, never the
 * repository's, so a team's repository is only read.
 */
export async function configureRepository(instance: Instance, stanza: string, place: RepositoryPlace): Promise<void> {
  const base = instance.archiveDir;
  const repository =
    'folder' in place
      ? [`repo1-path=${place.folder}`]
      : [
          'repo1-type=s3',
          `repo1-path=${place.s3.path}`,
          `repo1-s3-bucket=${place.s3.bucket}`,
          `repo1-s3-endpoint=${place.s3.endpoint}`,
          `repo1-storage-port=${place.s3.port}`,
          `repo1-s3-region=${place.s3.region}`,
          `repo1-s3-uri-style=${place.s3.uriStyle}`,
          ...(place.s3.caFile ? [`repo1-storage-ca-file=${place.s3.caFile}`] : []),
          ...(place.s3.verifyTls ? [] : ['repo1-storage-verify-tls=n']),
        ];
  repositories.set(instance, { stanza, ...('s3' in place ? { s3Url: `s3://${place.s3.bucket}${place.s3.path}` } : { folder: place.folder }) });
  const config = [
    '[global]',
    ...repository,
    'repo1-retention-full=2',
    `log-path=${join(base, 'log')}`,
    `lock-path=${join(base, 'lock')}`,
    `spool-path=${join(base, 'spool')}`,
    'start-fast=y',
    'log-level-console=warn',
    'log-level-file=detail',
    '',
    `[${stanza}]`,
    `pg1-path=${instance.serverSide.dataDir}`,
    `pg1-socket-path=${instance.serverSide.socketDir}`,
    `pg1-user=${instance.connection.user}`,
    '',
  ].join('\n');
  await instance.runServerTool('sh', ['-c', 'umask 077 && printf "%s" "$2" > "$1"', 'sh', configPath(instance), config]);
}

/** The harness's own repository (before the server archives its first segment); returns the archive_command. */
async function configure(instance: Instance, s3: S3Repository | undefined): Promise<string> {
  // Each drill's instance gets its own folder in the bucket: its work folder's name is unique to the run and the drill.
  const place = s3 ? { s3: { ...s3, path: `${s3.path.replace(/\/+$/, '')}/${basename(dirname(instance.archiveDir))}` } } : { folder: repoPath(instance) };
  await configureRepository(instance, STANZA, place);
  if (s3) ownInBucket.add(instance);
  return `${s3 ? `${S3_CREDENTIALS_FROM_ENV} ` : ''}${PGBACKREST} --config=${configPath(instance)} --stanza=${STANZA} archive-push %p`;
}

/** The stanza an instance's repository was configured with. */
function stanzaOf(instance: Instance): string {
  const repository = repositories.get(instance);
  if (!repository) throw new InternalError(`pgBackRest on ${instance.name} before its repository was configured`);
  return repository.stanza;
}

/** pgBackRest where the server runs (or ran: a lost instance's repository is still there); `folders` it must reach besides. */
export function pgbackrestRun(instance: Instance, args: string[], folders: string[] = []) {
  return instance.runServerTool(PGBACKREST, [`--config=${configPath(instance)}`, `--stanza=${stanzaOf(instance)}`, ...args], {
    timeoutMs: TOOL_TIMEOUT_MS,
    folders,
    // The backup commands connect to the server; libpq reads the password from here.
    env: { PGPASSWORD: instance.connection.password, ...(repositories.get(instance)?.s3Url ? s3Credentials() : {}) },
  });
}

/**
 * pgbackrest verify, judged by what it reports, not by its exit code: 2.45
 * exits 0 after finding a backup file whose checksum is wrong (it logs
 * "invalid checksum" and a stanza "status: error" at info level). Returns
 * what it said; throws naming the files when it found anything wrong, or
 * when it did not say it completed.
 */
export async function verifyRepository(instance: Instance): Promise<string> {
  const said = (await pgbackrestRun(instance, ['--log-level-console=info', 'verify'])).stdout;
  // Its log lines, without the timestamp and process prefix.
  const lines = said.split('\n').map((line) => line.replace(/^\S+ \S+ P\d+\s+\w+: /, '').trim()).filter(Boolean);
  const found = lines.filter((line) => !/^verify command (begin|end)/.test(line));
  if (!lines.some((line) => /^verify command end: completed successfully/.test(line))) {
    throw new BackupIntegrityError(`pgbackrest verify did not say it completed: ${found.slice(0, 5).join(' / ') || said.slice(0, 400)}`);
  }
  // What it found wrong: a file named invalid or missing, a status other than ok. Its summary lines ("stanza: x", "status: ok") are not.
  const problems = found.filter((line) => /invalid|missing|error|fail|corrupt|unable|warn/i.test(line) || (/^status: /.test(line) && line !== 'status: ok'));
  if (problems.length > 0) throw new BackupIntegrityError(`pgbackrest verify found the repository damaged: ${problems.slice(0, 8).join(' / ')}`);
  return 'pgbackrest verify: every file of every backup set and the WAL archive checked, none damaged or missing';
}

/** A chain of backup sets (a full and what builds on it) as an artifact describes it: each set's manifest with its digest, the bytes in the repository, the tool. */
export async function describeSets(instance: Instance, sets: readonly InfoBackup[]): Promise<Pick<BackupArtifact, 'format' | 'sidecar' | 'files' | 'sizeBytes' | 'sha256' | 'tool'>> {
  const files: ArtifactFile[] = [];
  for (const set of sets) files.push({ name: `${set.label}/backup.manifest`, ...(await manifestDigest(instance, set.label)) });
  return {
    format: sets.map((s) => s.type).join(' + '),
    sidecar: '',
    files,
    sizeBytes: sets.reduce((n, s) => n + s.info.repository.delta, 0),
    sha256: files.at(-1)!.sha256,
    tool: (await instance.runServerTool(PGBACKREST, ['version'])).stdout.trim(),
  };
}

function s3Credentials(): Record<string, string> {
  const key = process.env.AWS_ACCESS_KEY_ID;
  const secret = process.env.AWS_SECRET_ACCESS_KEY;
  if (!key || !secret) throw new BackupIntegrityError('backup.s3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set in the environment for pgBackRest to reach the bucket');
  return { PGBACKREST_REPO1_S3_KEY: key, PGBACKREST_REPO1_S3_KEY_SECRET: secret };
}

/** A backup set's manifest, as the repository holds it: a file in the folder, or an object read with repo-get. */
async function manifestDigest(instance: Instance, label: string): Promise<{ sizeBytes: number; sha256: string }> {
  const name = `backup/${stanzaOf(instance)}/${label}/backup.manifest`;
  const folder = repositories.get(instance)?.folder;
  if (folder) {
    const path = join(folder, name);
    return { sizeBytes: await sizeOf(path), sha256: await sha256File(path) };
  }
  const text = (await pgbackrestRun(instance, ['repo-get', name])).stdout;
  return { sizeBytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') };
}

export interface InfoBackup {
  label: string;
  type: string;
  prior: string | null;
  info: { size: number; delta: number; repository: { size: number; delta: number } };
  lsn: { start: string; stop: string };
}

/** A full backup, some writes, then an incremental on top of it: a restore needs both. */
async function pgbackrestBackup(instance: Instance, incrementalAfterMs: number): Promise<ArtifactOf<'pgbackrest'>> {
  const port = `--pg1-port=${instance.serverSide.port}`;
  await pgbackrestRun(instance, [port, 'stanza-create']);
  // check: archiving works end to end before a backup relies on it.
  await pgbackrestRun(instance, [port, 'check']);
  await pgbackrestRun(instance, [port, 'backup', '--type=full']);
  await sleep(incrementalAfterMs);
  await pgbackrestRun(instance, [port, 'backup', '--type=incr']);
  const verified = await verifyRepository(instance);
  const info = JSON.parse((await pgbackrestRun(instance, ['info', '--output=json'])).stdout) as Array<{ backup: InfoBackup[] }>;
  const sets = info[0]!.backup;
  const latest = sets.at(-1)!;
  return {
    method: 'pgbackrest',
    path: repositories.get(instance)?.s3Url ?? repoPath(instance),
    ...(await describeSets(instance, sets)),
    wal: { startLsn: latest.lsn.start, endLsn: latest.lsn.stop },
    detail: {
      sets: sets.map((s) => ({ label: s.label, type: s.type, prior: s.prior, sizeBytes: s.info.size, repoBytes: s.info.repository.delta, lsn: s.lsn })),
      latest: latest.label,
      verified,
    },
  };
}

/** Before the repository is trusted: pgBackRest's own verify, and the manifests' digests as recorded. */
async function checkRepository(instance: Instance, backup: BackupArtifact): Promise<void> {
  await verifyRepository(instance);
  for (const file of backup.files) {
    const actual = (await manifestDigest(instance, file.name.split('/')[0]!)).sha256;
    if (actual !== file.sha256) throw new BackupIntegrityError(`${file.name}: SHA-256 is ${actual} but was ${file.sha256} after the backup`);
  }
}

/**
 * `pgbackrest restore` into an empty data folder (a host folder the new
 * instance will use), stopping at the target and promoting. Returns the
 * target arguments it used.
 */
export async function pgbackrestRestore(instance: Instance, dataDir: string, target: RecoveryTargetKind, stopAt?: string, set?: string): Promise<string[]> {
  const typeArgs =
    target === 'end' || stopAt === undefined
      ? []
      : [`--type=${target}`, `--target=${stopAt}`, '--target-action=promote', ...(target === 'xid' ? ['--target-exclusive'] : [])];
  const setArgs = set ? [`--set=${set}`] : [];
  // From S3, the restored server fetches WAL with the credentials of its environment, as the primary pushed it.
  const fetchWal = repositories.get(instance)?.s3Url
    ? [`--recovery-option=restore_command=${S3_CREDENTIALS_FROM_ENV} ${PGBACKREST} --config=${configPath(instance)} --pg1-path=${dataDir} --stanza=${stanzaOf(instance)} archive-get %f "%p"`]
    : [];
  await pgbackrestRun(instance, [`--pg1-path=${dataDir}`, 'restore', ...fetchWal, ...setArgs, ...typeArgs], [dataDir]);
  return [...setArgs, ...typeArgs];
}

/**
 * The drill's own repository in the bucket, deleted (pgbackrest stop, then
 * stanza-delete) when the drill keeps no files: a repository in the
 * instance's folder goes with the folder, and one the harness did not make
 * (existing-pgbackrest) is never touched.
 */
async function discardOwnRepository(instance: Instance): Promise<string | undefined> {
  if (!ownInBucket.has(instance)) return undefined;
  await pgbackrestRun(instance, ['stop']);
  await pgbackrestRun(instance, ['stanza-delete', '--force']);
  ownInBucket.delete(instance);
  return repositories.get(instance)?.s3Url;
}

export const pgbackrest = defineMethod({
  method: 'pgbackrest',
  summary: 'pgBackRest: archive-push from the first start, a full backup then an incremental; checked with pgbackrest verify',
  family: 'physical',
  schema: z.strictObject({ method: z.literal('pgbackrest'), archiveTimeout, s3: s3Schema.optional() }),
  detail,
  requires: ['pgbackrest'],
  label: (spec) => `pgBackRest (full + incr${spec.s3 ? `, s3://${spec.s3.bucket}` : ''})`,
  // pgBackRest reads the server's version itself; pg_basebackup stands for the server's major.
  tools: () => ['pg_basebackup'],
  instanceOptions: (spec) => ({ walArchive: { timeoutMs: spec.archiveTimeout, command: (instance) => configure(instance, spec.s3) } }),
  take: async (ctx) => [await pgbackrestBackup(ctx.primary, 1000)],
  restoreInto: (instance, _backup, dataDir, target, stopAt) => pgbackrestRestore(instance, dataDir, target, stopAt),
  integrityChain: (artifact, instance) => [{ check: 'pgbackrest verify', run: async () => (await checkRepository(instance, artifact), 'repository and manifests verified') }],
  discard: discardOwnRepository,
});
