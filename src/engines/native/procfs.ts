/**
 * What the native engine reads from Linux's /proc and mount table: a free
 * port, the postmaster's pid, whether a process group still has live
 * members, and the tmpfs mounts it made.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runCommand } from '../../exec/command.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('the OS gave no port'))));
    });
  });
}

export async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const first = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0];
    const pid = Number(first);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether any live (non-zombie) process is left in a process group; the postmaster leads its own. */
export async function groupAlive(pgid: number): Promise<boolean> {
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') return true;
  }
  return false;
}

/** The mount points the kernel knows of, from its mount table. */
async function mountPoints(): Promise<string[]> {
  const table = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  return table.split('\n').map((line) => line.split(' ')[1] ?? '').filter(Boolean);
}

/** Unmounts a folder and every filesystem mounted inside it (a tmpfs data folder, a size-limited backup folder). */
export async function unmountAll(dir: string, { inside }: { inside: boolean }): Promise<void> {
  const mounts = (await mountPoints())
    .filter((path) => (inside ? path.startsWith(`${dir}/`) : path === dir))
    .sort((a, b) => b.length - a.length);
  for (const path of mounts) await runCommand('umount', ['--lazy', path], {}, { allowFailure: true });
}
