/**
 * The harness's temp folders. Every one starts with a fixed prefix and holds
 * a marker naming the harness process that made it, so the next run can find
 * and remove what a killed run left behind.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handOver, type RunAs } from './os-user.js';

const WORK_PREFIX = 'restore-drill-';
const MARKER = 'harness.json';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A new temp folder, handed to the user the servers run as, marked with this
 * harness's pid. Its name carries the run and the start of the label only: a
 * server's Unix socket lives in it, and socket paths are limited to 107 bytes.
 */
export async function makeWorkDir(root: string, runId: string, label: string, runAs: RunAs | undefined): Promise<string> {
  const dir = await mkdtemp(join(root, `${WORK_PREFIX}${runId}-${label.slice(0, 12)}-`));
  await writeFile(join(dir, MARKER), JSON.stringify({ pid: process.pid, runId }));
  await handOver(dir, runAs);
  return dir;
}

/**
 * The temp folders whose harness process is gone. `release` is called for each
 * (to stop a server, unmount a tmpfs) before the folder is deleted.
 */
export async function removeOrphanedWorkDirs(root = tmpdir(), release: (dir: string) => Promise<void> = async () => {}): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return removed;
  }
  for (const name of names.filter((n) => n.startsWith(WORK_PREFIX))) {
    const dir = join(root, name);
    let owner: number | undefined;
    try {
      owner = (JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as { pid: number }).pid;
    } catch {
      continue; // Not ours, or still being created.
    }
    if (owner === undefined || isAlive(owner)) continue;
    await release(dir);
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
