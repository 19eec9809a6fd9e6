/**
 * pgBackRest with its repository in the instance's archive folder: the server
 * pushes WAL with `archive-push`; the backup is a stanza, a full backup, some
 * writes, then an incremental on top; `verify` checks the repository. Restore
 * goes into a new data folder with `restore --type=time|lsn|xid|name`.
 */
import { join } from 'node:path';
import { sleep } from '../clock.js';
import type { Instance } from '../engines/instance.js';
import type { RecoveryTarget } from '../faults/inject.js';
import { sha256File } from './checksum.js';
import { sizeOf, type ArtifactFile, type BackupArtifact } from './artifact.js';

export const STANZA = 'drill';
const PGBACKREST = 'pgbackrest';

export function configPath(instance: Pick<Instance, 'archiveDir'>): string {
  return join(instance.archiveDir, 'pgbackrest.conf');
}

function repoPath(instance: Pick<Instance, 'archiveDir'>): string {
  return join(instance.archiveDir, 'repo');
}

/** Writes the configuration (before the server first archives) and returns the archive_command. */
export async function configure(instance: Instance): Promise<string> {
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
    `pg1-path=${instance.dataDir}`,
    `pg1-socket-path=${join(instance.dataDir!, '..', 'sock')}`,
    `pg1-user=${instance.connection.user}`,
    '',
  ].join('\n');
  await instance.runHost('sh', ['-c', 'umask 077 && cat > "$1"', 'sh', configPath(instance)], { input: config });
  return `${PGBACKREST} --config=${configPath(instance)} --stanza=${STANZA} archive-push %p`;
}

function run(instance: Instance, args: string[], timeoutMs = 6 * 3_600_000) {
  return instance.runHost(PGBACKREST, [`--config=${configPath(instance)}`, `--stanza=${STANZA}`, ...args], {
    timeoutMs,
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

export async function pgbackrestBackup(instance: Instance, incrementalAfterMs: number): Promise<BackupArtifact> {
  const port = `--pg1-port=${instance.connection.port}`;
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
    tool: (await instance.runHost(PGBACKREST, ['version'])).stdout.trim(),
    detail: {
      sets: sets.map((s) => ({ label: s.label, type: s.type, prior: s.prior, sizeBytes: s.info.size, repoBytes: s.info.repository.delta, lsn: s.lsn })),
      latest: latest.label,
      startLsn: latest.lsn.start,
      endLsn: latest.lsn.stop,
      verified: verified || 'pgbackrest verify: no errors',
    },
  };
}

/** Before the repository is trusted: pgBackRest's own verify, and the manifests' digests as recorded. */
export async function checkRepository(instance: Instance, backup: BackupArtifact): Promise<void> {
  await run(instance, ['verify']);
  for (const file of backup.files) {
    const actual = await sha256File(join(backup.path, 'backup', STANZA, file.name));
    if (actual !== file.sha256) throw new Error(`${file.name}: SHA-256 is ${actual} but was ${file.sha256} after the backup`);
  }
}

/** `pgbackrest restore` into an empty data folder, stopping at the target and promoting. */
export async function pgbackrestRestore(instance: Instance, dataDir: string, target: 'time' | 'lsn' | 'xid' | 'name' | 'end', marker?: RecoveryTarget): Promise<string[]> {
  const typeArgs =
    target === 'end' || !marker
      ? []
      : [`--type=${target}`, `--target=${marker[target]}`, '--target-action=promote', ...(target === 'xid' ? ['--target-exclusive'] : [])];
  await run(instance, [`--pg1-path=${dataDir}`, 'restore', ...typeArgs]);
  return typeArgs;
}
