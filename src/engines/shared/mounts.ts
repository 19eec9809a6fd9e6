/**
 * The tmpfs mounts both engines make on the host (a size-limited data or
 * backup folder), and their removal. Mounting keeps root's rights: the one
 * step that does.
 */
import { readFile } from 'node:fs/promises';
import { runCommand, type CommandContext } from '../../exec/command.js';

/** Mounts a tmpfs on an existing folder; `options` are mount's (size=…,mode=…,uid=…). */
export async function mountTmpfs(path: string, options: string, ctx: CommandContext): Promise<void> {
  await runCommand('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', path], { ...ctx, runAs: undefined });
}

/** Gives a mounted tmpfs a new size; every bind of it (inside a container too) shares the limit. */
export async function resizeTmpfs(path: string, bytes: number, ctx: CommandContext): Promise<void> {
  await runCommand('mount', ['-o', `remount,size=${bytes}`, path], { ...ctx, runAs: undefined });
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
