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
import { BackupIntegrityError } from '../errors.js';
import type { ArtifactFile, ArtifactOf, BackupArtifact } from '../model/artifact.js';
import type { RecoveryMarker, RecoveryTargetKind } from '../model/moments.js';
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

const s3Schema = z
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

/** The S3 repository of each instance configured with one (the struck instance restores from it, in this process). */
const s3Repositories = new WeakMap<Instance, { url: string }>();

function configPath(instance: Pick<Instance, 'archiveDir'>): string {
  return join(instance.archiveDir, 'pgbackrest.conf');
}

function repoPath(instance: Pick<Instance, 'archiveDir'>): string {
  return join(instance.archiveDir, 'repo');
}

/**
 * Writes the configuration where pgBackRest runs, beside the server (before
 * it archives its first segment), and returns the archive_command. Paths are
 * the server's own (serverSide); the repository is in the archive folder, at
 * the same path on the host.
 */
async function configure(instance: Instance, s3: S3Repository | undefined): Promise<string> {
  const base = instance.archiveDir;
  // Each drill's instance gets its own folder in the bucket: its work folder's name is unique to the run and the drill.
  const s3Path = s3 && `${s3.path.replace(/\/+$/, '')}/${basename(dirname(base))}`;
  const repository = s3
    ? [
        'repo1-type=s3',
        `repo1-path=${s3Path}`,
        `repo1-s3-bucket=${s3.bucket}`,
        `repo1-s3-endpoint=${s3.endpoint}`,
        `repo1-storage-port=${s3.port}`,
        `repo1-s3-region=${s3.region}`,
        `repo1-s3-uri-style=${s3.uriStyle}`,
        ...(s3.caFile ? [`repo1-storage-ca-file=${s3.caFile}`] : []),
        ...(s3.verifyTls ? [] : ['repo1-storage-verify-tls=n']),
      ]
    : [`repo1-path=${repoPath(instance)}`];
  if (s3) s3Repositories.set(instance, { url: `s3://${s3.bucket}${s3Path}` });
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
    `[${STANZA}]`,
    `pg1-path=${instance.serverSide.dataDir}`,
    `pg1-socket-path=${instance.serverSide.socketDir}`,
    `pg1-user=${instance.connection.user}`,
    '',
  ].join('\n');
  await instance.runServerTool('sh', ['-c', 'umask 077 && printf "%s" "$2" > "$1"', 'sh', configPath(instance), config]);
  return `${s3 ? `${S3_CREDENTIALS_FROM_ENV} ` : ''}${PGBACKREST} --config=${configPath(instance)} --stanza=${STANZA} archive-push %p`;
}

/** pgBackRest where the server runs (or ran: a lost instance's repository is still there); `folders` it must reach besides. */
function run(instance: Instance, args: string[], folders: string[] = []) {
  return instance.runServerTool(PGBACKREST, [`--config=${configPath(instance)}`, `--stanza=${STANZA}`, ...args], {
    timeoutMs: TOOL_TIMEOUT_MS,
    folders,
    // The backup commands connect to the server; libpq reads the password from here.
    env: { PGPASSWORD: instance.connection.password, ...(s3Repositories.has(instance) ? s3Credentials() : {}) },
  });
}

function s3Credentials(): Record<string, string> {
  const key = process.env.AWS_ACCESS_KEY_ID;
  const secret = process.env.AWS_SECRET_ACCESS_KEY;
  if (!key || !secret) throw new BackupIntegrityError('backup.s3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set in the environment for pgBackRest to reach the bucket');
  return { PGBACKREST_REPO1_S3_KEY: key, PGBACKREST_REPO1_S3_KEY_SECRET: secret };
}

/** A backup set's manifest, as the repository holds it: a file in the folder, or an object read with repo-get. */
async function manifestDigest(instance: Instance, label: string): Promise<{ sizeBytes: number; sha256: string }> {
  const name = `backup/${STANZA}/${label}/backup.manifest`;
  if (!s3Repositories.has(instance)) {
    const path = join(repoPath(instance), name);
    return { sizeBytes: await sizeOf(path), sha256: await sha256File(path) };
  }
  const text = (await run(instance, ['repo-get', name])).stdout;
  return { sizeBytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') };
}

interface InfoBackup {
  label: string;
  type: string;
  prior: string | null;
  info: { size: number; delta: number; repository: { size: number; delta: number } };
  lsn: { start: string; stop: string };
}

/** A full backup, some writes, then an incremental on top of it: a restore needs both. */
async function pgbackrestBackup(instance: Instance, incrementalAfterMs: number): Promise<ArtifactOf<'pgbackrest'>> {
  const port = `--pg1-port=${instance.serverSide.port}`;
  await run(instance, [port, 'stanza-create']);
  // check: archiving works end to end before a backup relies on it.
  await run(instance, [port, 'check']);
  await run(instance, [port, 'backup', '--type=full']);
  await sleep(incrementalAfterMs);
  await run(instance, [port, 'backup', '--type=incr']);
  const verified = (await run(instance, ['verify'])).stdout.trim();
  const info = JSON.parse((await run(instance, ['info', '--output=json'])).stdout) as Array<{ backup: InfoBackup[] }>;
  const sets = info[0]!.backup;
  const files: ArtifactFile[] = [];
  for (const set of sets) files.push({ name: `${set.label}/backup.manifest`, ...(await manifestDigest(instance, set.label)) });
  const latest = sets.at(-1)!;
  return {
    method: 'pgbackrest',
    format: sets.map((s) => s.type).join(' + '),
    path: s3Repositories.get(instance)?.url ?? repoPath(instance),
    sidecar: '',
    files,
    sizeBytes: sets.reduce((n, s) => n + s.info.repository.delta, 0),
    sha256: files.at(-1)!.sha256,
    tool: (await instance.runServerTool(PGBACKREST, ['version'])).stdout.trim(),
    wal: { startLsn: latest.lsn.start, endLsn: latest.lsn.stop },
    detail: {
      sets: sets.map((s) => ({ label: s.label, type: s.type, prior: s.prior, sizeBytes: s.info.size, repoBytes: s.info.repository.delta, lsn: s.lsn })),
      latest: latest.label,
      verified: verified || 'pgbackrest verify: no errors',
    },
  };
}

/** Before the repository is trusted: pgBackRest's own verify, and the manifests' digests as recorded. */
async function checkRepository(instance: Instance, backup: BackupArtifact): Promise<void> {
  await run(instance, ['verify']);
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
export async function pgbackrestRestore(instance: Instance, dataDir: string, target: RecoveryTargetKind, marker?: RecoveryMarker): Promise<string[]> {
  const typeArgs =
    target === 'end' || !marker
      ? []
      : [`--type=${target}`, `--target=${marker[target]}`, '--target-action=promote', ...(target === 'xid' ? ['--target-exclusive'] : [])];
  // From S3, the restored server fetches WAL with the credentials of its environment, as the primary pushed it.
  const fetchWal = s3Repositories.has(instance)
    ? [`--recovery-option=restore_command=${S3_CREDENTIALS_FROM_ENV} ${PGBACKREST} --config=${configPath(instance)} --pg1-path=${dataDir} --stanza=${STANZA} archive-get %f "%p"`]
    : [];
  await run(instance, [`--pg1-path=${dataDir}`, 'restore', ...fetchWal, ...typeArgs], [dataDir]);
  return typeArgs;
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
  integrityChain: (artifact, instance) => [{ check: 'pgbackrest verify', run: async () => (await checkRepository(instance, artifact), 'repository and manifests verified') }],
});
