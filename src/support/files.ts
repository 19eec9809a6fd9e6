/**
 * Files that are either whole or absent: each is written beside its target
 * and renamed over it, and a write that fails (a full disk, a lost permission)
 * leaves neither a partial file nor the temp file behind. A reader (the node
 * exporter's textfile collector, a CI step) never sees half a file; the temp
 * name does not end in .prom, so the collector ignores it.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

function tempBeside(path: string): string {
  return `${path}.${process.pid}.tmp`;
}

export async function writeFileAtomically(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = tempBeside(path);
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** The synchronous form, for writes that must land before a signal handler exits the process. */
export function writeFileAtomicallySync(path: string, data: string): void {
  const temp = tempBeside(path);
  try {
    writeFileSync(temp, data);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Bytes of the regular files under a folder (links not followed): how far a backup has got. */
export async function folderBytes(folder: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    // Files come and go while a backup runs: one that vanished between listing and reading counts nothing.
    if (entry.isDirectory()) total += await folderBytes(path).catch(() => 0);
    else if (entry.isFile()) total += (await lstat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
