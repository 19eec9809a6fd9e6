/**
 * Disks that fill up. The backup destination fills during tonight's backup:
 * the backup must fail loudly, and what it left half-written must never pass
 * for a good backup. The data folder fills while the workload writes: the
 * server's errors are recorded, and recovery frees the space.
 */
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { BackupArtifact } from '../backup/artifact.js';
import { stampedName } from '../backup/artifact.js';
import { sleep } from '../clock.js';
import type { Instance } from '../engines/instance.js';
import { errorMessage } from '../errors.js';
import type { LedgerWorkload } from '../workload/ledger.js';

export const FILLER = 'restore_drill_filler';

/**
 * pg_dump into a destination too small for it. Returns the half-written file as
 * the newest "backup", with no sidecar, exactly as a careless script would leave it.
 */
export async function backupIntoFullDisk(instance: Instance, database: string, previous: BackupArtifact): Promise<{ partial: BackupArtifact; error: string; heal: () => Promise<void> }> {
  // Half of what the last backup needed: tonight's cannot fit.
  const bytes = Math.max(64 * 1024, Math.floor(previous.sizeBytes / 2));
  const folder = await instance.sizeLimitedFolder('tonight', bytes);
  const path = join(folder.path, stampedName(database, 'dump'));
  const result = await instance.runTool('pg_dump', ['--format=custom', `--file=${path}`, `--dbname=${database}`], { allowFailure: true });
  if (!result.failed) {
    await folder.release();
    throw new Error(`pg_dump fitted in a ${bytes}-byte destination; the disk-full fault needs a larger database`);
  }
  const size = await stat(path).then((s) => s.size, () => 0);
  return {
    error: result.stderr.trim(),
    partial: {
      method: 'pg_dump',
      format: 'custom',
      path,
      sidecar: '',
      files: [{ name: basename(path), sizeBytes: size, sha256: '' }],
      sizeBytes: size,
      sha256: '',
      tool: await instance.toolVersion('pg_dump'),
      detail: { database, failed: true, exitCode: result.exitCode, destinationBytes: bytes },
    },
    heal: folder.release,
  };
}

/**
 * Fills the filesystem of the data folder (a size-limited one) with a file
 * the server does not own, then waits for the workload to hit the wall.
 */
export async function fillDataFolder(instance: Instance, workload: LedgerWorkload, timeoutMs = 20_000): Promise<{ filler: string; serverSaid: string[]; workloadError?: string }> {
  const client = await instance.connect('postgres');
  const dataDir = (await client.query<{ dir: string }>("select current_setting('data_directory') as dir").finally(() => client.end())).rows[0]!.dir;
  const filler = join(dataDir, FILLER);
  // dd stops when the disk is full; that is the point, not an error.
  await instance.exec('sh', ['-c', 'dd if=/dev/zero of="$1" bs=1M 2>/dev/null; exit 0', 'sh', filler]);
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline && workload.summary().errors.length === 0) await sleep(100);
  const log = await instance.logTail(200).catch((error: unknown) => errorMessage(error));
  return {
    filler,
    serverSaid: log.split('\n').filter((line) => /No space left on device|PANIC|could not (write|extend)/.test(line)).slice(-10),
    workloadError: workload.summary().errors[0],
  };
}
