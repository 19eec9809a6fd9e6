/**
 * pgBackRest with its repository in the instance's archive folder: the server
 * pushes WAL with `archive-push`; the backup is a stanza, a full backup, some
 * writes, then an incremental on top; `verify` checks the repository. Restore
 * goes into a new data folder with `restore --type=time|lsn|xid|name`.
 */
import { join } from 'node:path';
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
async function configure(instance: Instance): Promise<string> {
  const base = instance.archiveDir;
  const config = [
    '[global]',
    `repo1-path=${repoPath(instance)}`,
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
  return `${PGBACKREST} --config=${configPath(instance)} --stanza=${STANZA} archive-push %p`;
}

/** pgBackRest where the server runs (or ran: a lost instance's repository is still there); `folders` it must reach besides. */
function run(instance: Instance, args: string[], folders: string[] = []) {
  return instance.runServerTool(PGBACKREST, [`--config=${configPath(instance)}`, `--stanza=${STANZA}`, ...args], {
    timeoutMs: TOOL_TIMEOUT_MS,
    folders,
    // The backup commands connect to the server; libpq reads the password from here.
    env: { PGPASSWORD: instance.connection.password },
  });
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
  for (const set of sets) {
    const manifest = join(repoPath(instance), 'backup', STANZA, set.label, 'backup.manifest');
    files.push({ name: `${set.label}/backup.manifest`, sizeBytes: await sizeOf(manifest), sha256: await sha256File(manifest) });
  }
  const latest = sets.at(-1)!;
  return {
    method: 'pgbackrest',
    format: sets.map((s) => s.type).join(' + '),
    path: repoPath(instance),
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
    const actual = await sha256File(join(backup.path, 'backup', STANZA, file.name));
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
  await run(instance, [`--pg1-path=${dataDir}`, 'restore', ...typeArgs], [dataDir]);
  return typeArgs;
}

export const pgbackrest = defineMethod({
  method: 'pgbackrest',
  summary: 'pgBackRest: archive-push from the first start, a full backup then an incremental; checked with pgbackrest verify',
  family: 'physical',
  schema: z.strictObject({ method: z.literal('pgbackrest'), archiveTimeout }),
  detail,
  requires: ['pgbackrest'],
  label: () => 'pgBackRest (full + incr)',
  // pgBackRest reads the server's version itself; pg_basebackup stands for the server's major.
  tools: () => ['pg_basebackup'],
  instanceOptions: (spec) => ({ walArchive: { timeoutMs: spec.archiveTimeout, command: configure } }),
  take: async (ctx) => [await pgbackrestBackup(ctx.primary, 1000)],
  integrityChain: (artifact, instance) => [{ check: 'pgbackrest verify', run: async () => (await checkRepository(instance, artifact), 'repository and manifests verified') }],
});
