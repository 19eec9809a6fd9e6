/**
 * The spark-trading runbook's rollback: before a restore, the struck
 * instance's data folder is set aside (stopped, copied: its
 * data.backup.<timestamp>); when the recovery fails its checks, the restored
 * folder is removed, the copy put back and the server started, and
 * checks/rollback.ts compares the instance with what it was before the
 * restore. The copy is the instance's, removed with it.
 */
import { clusterState, type ClusterState } from '../checks/snapshot.js';
import type { Instance } from '../engines/types.js';
import { UnsupportedError } from '../errors.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';

export interface SetAside {
  /** The copy of the data folder, beside it. */
  copy: string;
  /** The cluster as it was, read before it was stopped for the copy. */
  before: ClusterState;
}

/** The faults after which the struck instance runs and holds what a rollback puts back (not a lost instance, not a dead or full one). */
export const ROLLBACK_HARMS = ['table-lost', 'table-damaged', 'database-lost', 'bad-data'] as const;

/** The data folder a rollback copies; checked at setup, so a drill that cannot roll back ends unsupported before its fault. */
export function dataDirOf(instance: Instance): string {
  if (!instance.dataDir) throw new UnsupportedError(`rollback needs the data folder on the host to copy it aside; ${instance.name}'s is not (a tmpfs in the container)`);
  return instance.dataDir;
}

export async function setAside(instance: Instance): Promise<SetAside> {
  const dataDir = dataDirOf(instance);
  const before = await clusterState((database) => instance.connect(database));
  const copy = `${dataDir}.pre-restore`;
  // Stopped, so the copy is consistent without replay, as the runbook stops PostgreSQL before it copies.
  await instance.stop();
  await instance.runOnHost('cp', ['-a', '--reflink=auto', dataDir, copy], { timeoutMs: TOOL_TIMEOUT_MS });
  await instance.start();
  return { copy, before };
}

/** Puts the set-aside folder back in place of whatever the recovery left, starts the server, and reads it. */
export async function rollBack(instance: Instance, aside: SetAside): Promise<ClusterState> {
  const dataDir = dataDirOf(instance);
  if (await instance.running()) await instance.stop();
  await instance.runOnHost('rm', ['-rf', dataDir]);
  await instance.runOnHost('cp', ['-a', '--reflink=auto', aside.copy, dataDir], { timeoutMs: TOOL_TIMEOUT_MS });
  await instance.start();
  return clusterState((database) => instance.connect(database));
}
