/**
 * What the two file-set parts (config-files, secrets) share: an application
 * folder of their own under the part's workDir, backups taken beside it, the
 * state of a folder (every file's path, content hash, mode and owner), the
 * faults that lose or damage, and the recovery's step-by-step checks.
 */
import { createHash, createHmac } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { z } from 'zod';
import { CommandError, errorMessage, FaultError } from '../errors.js';
import { type CommandContext, type CommandOptions, runCommand, TOOL_TIMEOUT_MS } from '../exec/command.js';
import type { IntegrityStep } from '../model/observations.js';
import type { PartBackup, PartRecovery, PartState } from '../model/parts.js';
import { targetDuration } from '../support/fields.js';
import { type Instant, now } from '../support/clock.js';
import { onPath } from '../support/path-search.js';
import { sha256File } from '../support/sha256.js';
import type { PartHost } from './part.js';

export const targetsSchema = z
  .strictObject({ rto: targetDuration.describe('How long the part may be without its files, from the fault to verified.'), rpo: targetDuration.describe('How much change may be lost.') })
  .optional()
  .describe("This part's own recovery time and data loss targets; without them the drill's apply.");

/** Bytes derived from the drill's seed and a name: the same seed gives the same content, another name other bytes. */
export function derive(seed: number, name: string, length = 32): Buffer {
  const blocks: Buffer[] = [];
  for (let block = 0; blocks.length * 32 < length; block++) blocks.push(createHmac('sha256', `restore-drill/${seed}`).update(`${name}#${block}`).digest());
  return Buffer.concat(blocks).subarray(0, length);
}

export type FileSpec = { path: string; content: string; mode: number };

export async function writeFiles(root: string, files: readonly FileSpec[]): Promise<void> {
  for (const file of files) {
    const path = join(root, file.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.content);
    // writeFile's mode passes through the umask; the mode is part of what is compared.
    await chmod(path, file.mode);
  }
}

/** Beyond this many files perItem is left out (too large to record): the state still compares by fingerprint. */
const MAX_PER_ITEM = 500;

/**
 * A folder's state: every file and folder under it by relative path, as
 * "<mode> <uid>:<gid> <content sha256>" ("directory" for a folder, named
 * with a trailing /: a secrets folder restored 0755 instead of 0700 is a
 * finding). Content is hashed, never kept: a secret's state holds no secret.
 * Throws when the folder cannot be read.
 */
export async function folderState(root: string): Promise<PartState> {
  const entryState = (info: Stats, content: string) => `${(info.mode & 0o7777).toString(8).padStart(4, '0')} ${info.uid}:${info.gid} ${content}`;
  // The folder itself too: readdir lists only what is in it.
  const files: Record<string, string> = { './': entryState(await lstat(root), 'directory') };
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = await lstat(path);
    const content = entry.isDirectory()
      ? 'directory'
      : entry.isFile()
        ? await sha256File(path)
        : entry.isSymbolicLink()
          ? createHash('sha256').update(`symlink:${await readlink(path)}`).digest('hex')
          : 'special';
    files[`${relative(root, path)}${entry.isDirectory() ? '/' : ''}`] = entryState(info, content);
  }
  const paths = Object.keys(files).sort();
  const fingerprint = createHash('sha256')
    .update(paths.map((path) => `${path}\t${files[path]}\n`).join(''))
    .digest('hex');
  // Items are the files: a folder is compared, but "3 files" is what a reader counts.
  return { items: paths.filter((path) => !path.endsWith('/')).length, fingerprint, ...(paths.length <= MAX_PER_ITEM ? { perItem: Object.fromEntries(paths.map((path) => [path, files[path]!])) } : {}) };
}

export async function readFolder(root: string): Promise<PartState | { unreachable: string }> {
  return folderState(root).catch((error: unknown) => ({ unreachable: errorMessage(error) }));
}

/** Whether each tool is on PATH, with the missing ones named. */
export async function toolsOnPath(tools: readonly string[]): Promise<{ ok: true } | { ok: false; why: string }> {
  const missing = tools.filter((tool) => !onPath(tool));
  return missing.length ? { ok: false, why: `${missing.join(', ')} not found on PATH` } : { ok: true };
}

/** The runbook's restore runs as root: tar then keeps the archived owners and modes, which the state compares. */
export function ownerFlags(): string[] {
  return process.getuid?.() === 0 ? ['--same-owner', '--same-permissions'] : [];
}

/**
 * The folders of one file-set part: the application folder (a copy the drill
 * may destroy), backups beside it, and the backups taken.
 */
export async function openFileSet(host: PartHost, ctx: CommandContext) {
  const app = join(host.workDir, 'app');
  const backupDir = join(host.workDir, 'backups');
  await mkdir(app, { recursive: true });
  await mkdir(backupDir, { recursive: true });
  const taken: PartBackup[] = [];
  return {
    app,
    ctx,
    taken,
    /** A command of the part, in the journal; a whole backup's read or copy may take long. */
    run: (file: string, args: string[], options: CommandOptions = {}) => runCommand(file, args, ctx, { timeoutMs: TOOL_TIMEOUT_MS, ...options }),
    /** A new backup's path, named the runbook's way (<prefix>_YYYYMMDD_HHMMSS<ext>, UTC), never one already taken. */
    stampedPath(prefix: string, ext: string): string {
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
      for (let n = 1; ; n++) {
        const path = join(backupDir, `${prefix}_${stamp}${n > 1 ? `_${n}` : ''}${ext}`);
        if (!taken.some((backup) => backup.path === path)) return path;
      }
    },
    async recordBackup(path: string, detail: Record<string, unknown>): Promise<PartBackup> {
      const backup = { path, sizeBytes: (await stat(path)).size, sha256: await sha256File(path), takenAt: new Date().toISOString(), detail };
      taken.push(backup);
      return backup;
    },
    /**
     * The fault. damage-archive inverts 16 bytes in the middle of the newest
     * backup (a restore that checks nothing would trust it); `also` is a
     * part's own harm (a rotated key). Every fault then removes the files,
     * leaving the folder, as a wiped host's mount point would be.
     */
    async strike(type: string, also = async () => ''): Promise<{ at: Instant; summary: string }> {
      const at = now();
      let harm = await also();
      if (type === 'damage-archive') {
        const path = taken.at(-1)?.path;
        if (!path) throw new FaultError('damage-archive needs a backup to damage, and none was taken');
        const bytes = await readFile(path);
        const offset = Math.floor(bytes.length / 2);
        const count = Math.min(16, bytes.length - offset);
        for (let i = offset; i < offset + count; i++) bytes[i] = bytes[i]! ^ 0xff;
        await writeFile(path, bytes);
        harm += `${count} bytes inverted at offset ${offset} of ${basename(path)}; `;
      }
      const { items } = await folderState(app);
      for (const entry of await readdir(app)) await rm(join(app, entry), { recursive: true, force: true });
      return { at, summary: `${harm}${items} files removed from the application folder` };
    },
    /** Removes the application folder, and the backups unless kept. Safe to call twice. */
    async remove(keepBackups: boolean): Promise<void> {
      await rm(app, { recursive: true, force: true });
      if (!keepBackups) await rm(backupDir, { recursive: true, force: true });
    },
  };
}

/** One step of a recovery: returns what it saw, throws when it failed. A restore step is not one of the integrity checks. */
interface Step {
  check: string;
  run: () => Promise<string>;
  restore?: true;
}

/** A failure in the tool's own words: its stderr (already redacted by the runner), else the error's message, on one line. */
function toolWords(error: unknown): string {
  const words = error instanceof CommandError && error.stderrTail.trim() ? error.stderrTail : errorMessage(error);
  return words.trim().split('\n').join('; ');
}

/**
 * The recovery from the newest backup: the digest recorded when it was taken
 * first, before any tool reads it; then the part's checks in order until one
 * fails (each recorded); then its restore steps. Never throws: a failure ends
 * ok false, naming its step.
 */
export async function recoverFrom(backup: PartBackup | undefined, steps: (backup: PartBackup) => Step[]): Promise<PartRecovery> {
  if (!backup) return { ok: false, error: 'no backup was taken', integrity: [] };
  const digest: Step = {
    check: 'sha256',
    run: async () => {
      const found = await sha256File(backup.path);
      if (found !== backup.sha256) throw new Error(`${basename(backup.path)} hashes ${found}, not the ${backup.sha256} recorded when it was taken`);
      return `matches ${backup.sha256}`;
    },
  };
  const integrity: IntegrityStep[] = [];
  for (const step of [digest, ...steps(backup)]) {
    let outcome: IntegrityStep;
    try {
      outcome = { check: step.check, ok: true, detail: await step.run() };
    } catch (error) {
      outcome = { check: step.check, ok: false, detail: toolWords(error) };
    }
    if (!step.restore) integrity.push(outcome);
    if (!outcome.ok) return { ok: false, error: `${step.check}: ${outcome.detail}`, integrity, ...(step.restore ? { usedBackup: backup.path } : {}) };
  }
  return { ok: true, integrity, usedBackup: backup.path };
}
