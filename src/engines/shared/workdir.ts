/**
 * The harness's temp folders. Every one starts with a fixed prefix and holds
 * a marker naming the harness process that made it, so the next run can find
 * and remove what a killed run left behind.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closingDown } from '../../support/cleanup.js';
import { isAlive } from '../../support/processes.js';
import { handOver, type RunAs } from './os-user.js';

const WORK_PREFIX = 'restore-drill-';
const MARKER = 'harness.json';
/** How old a folder of ours without a marker must be before it counts as a killed run's. */
const UNMARKED_GRACE_MS = 10 * 60_000;

/** What follows the folder's name in the longest path in it: "-XXXXXX" from mkdtemp, then the server's socket. */
const SOCKET_TAIL = '-XXXXXX/sock/.s.PGSQL.65535';
const MAX_SOCKET_PATH = 107;

/**
 * The label as it fits in a folder name: a server's Unix socket lives in the
 * folder, and socket paths are limited to 107 bytes. A long label keeps its
 * start and its end (the instance's role: -restored, -standby).
 */
function fitted(root: string, runId: string, label: string): string {
  const room = Math.max(8, MAX_SOCKET_PATH - Buffer.byteLength(join(root, `${WORK_PREFIX}${runId}-`)) - SOCKET_TAIL.length);
  if (label.length <= room) return label;
  const end = Math.min(12, room - 4);
  return `${label.slice(0, room - end - 1)}~${label.slice(-end)}`;
}

/** A new temp folder, handed to the user the servers run as, marked with this harness's pid. */
export async function makeWorkDir(root: string, runId: string, label: string, runAs: RunAs | undefined): Promise<string> {
  if (closingDown()) throw new Error(`not making ${label}'s folder: the run is stopping`);
  const dir = await mkdtemp(join(root, `${WORK_PREFIX}${runId}-${fitted(root, runId, label)}-`));
  await writeFile(join(dir, MARKER), JSON.stringify({ pid: process.pid, runId }));
  // Made while the cleanup began: nobody will register it now, so it goes at once.
  if (closingDown()) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`not making ${label}'s folder: the run is stopping`);
  }
  await handOver(dir, runAs);
  return dir;
}

/**
 * Removes a harness folder with its marker last: a harness killed halfway
 * leaves a folder that still says whose it was, which the next run removes,
 * rather than an unmarked one that must first grow old.
 */
export async function removeWorkDir(dir: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const entry of entries) if (entry !== MARKER) await rm(join(dir, entry), { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
}

interface Marker {
  pid: number;
  runId: string;
  /** Set when the harness kept the folder on purpose (--keep, a failed drill): evidence nobody else may remove. */
  keptAt?: string;
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as Marker;
  } catch {
    return undefined; // Not ours, or still being created.
  }
}

/** Marks a folder as kept on purpose: no later run's cleanup removes it; `restore-drill clean` does, on request. */
export async function markKept(dir: string): Promise<void> {
  const marker = await readMarker(dir);
  if (marker) await writeFile(join(dir, MARKER), JSON.stringify({ ...marker, keptAt: new Date().toISOString() }));
}

/** The harness's folders in `root`, with whether their harness is gone and whether they were kept on purpose. */
async function workDirs(root = tmpdir()): Promise<Array<{ dir: string; orphaned: boolean; kept: boolean }>> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const found = [];
  for (const name of names.filter((n) => n.startsWith(WORK_PREFIX)).sort()) {
    const dir = join(root, name);
    const marker = await readMarker(dir);
    if (marker?.pid === undefined) {
      // The marker is written a moment after the folder is made: a folder without one is
      // being made now, or its harness was killed in that moment. Only the second grows old.
      const age = await stat(dir).then((info) => Date.now() - info.mtimeMs, () => 0);
      if (age > UNMARKED_GRACE_MS) found.push({ dir, orphaned: true, kept: false });
      continue;
    }
    found.push({ dir, orphaned: !isAlive(marker.pid), kept: marker.keptAt !== undefined });
  }
  return found;
}

/**
 * The temp folders whose harness process is gone and that it did not keep on
 * purpose (a killed run's leftovers). `release` is called for each (to stop a
 * server, unmount a tmpfs) before the folder is deleted. With `kept`, kept
 * folders go too (`restore-drill clean`).
 */
export async function removeOrphanedWorkDirs(
  root = tmpdir(),
  release: (dir: string) => Promise<void> = async () => {},
  { kept = false }: { kept?: boolean } = {},
): Promise<string[]> {
  const removed: string[] = [];
  for (const found of await workDirs(root)) {
    if (!found.orphaned || (found.kept && !kept)) continue;
    await release(found.dir);
    await removeWorkDir(found.dir);
    removed.push(found.dir);
  }
  return removed;
}
