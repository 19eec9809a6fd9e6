/**
 * SHA-256 sidecars in `sha256sum` format ("<hex>  <name>"), as the teams'
 * scripts write them, so `sha256sum -c` works on our artifacts too. A backup
 * is checked against its sidecar before any restore trusts it. A backup that
 * is a folder gets a SHA256SUMS file listing every file in it.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BackupIntegrityError } from '../errors.js';
import type { ArtifactFile } from '../model/artifact.js';
import { sha256File } from '../support/sha256.js';

export function sidecarPath(path: string): string {
  return `${path}.sha256`;
}

/** Where `restore-drill fingerprint` writes the source's fingerprint beside a dump, and where a backup method finds it. */
export function fingerprintPath(dump: string): string {
  return `${dump}.fingerprint.json`;
}

export async function writeSidecar(path: string, digest: string): Promise<string> {
  const sidecar = sidecarPath(path);
  await writeFile(sidecar, `${digest}  ${basename(path)}\n`);
  return sidecar;
}

/** Throws BackupIntegrityError unless the file matches its sidecar; returns the digest. */
export async function verifySidecar(path: string): Promise<string> {
  let expected: string | undefined;
  try {
    expected = /^([0-9a-f]{64})\s/.exec(await readFile(sidecarPath(path), 'utf8'))?.[1];
  } catch {
    throw new BackupIntegrityError(`${path}: checksum sidecar ${sidecarPath(path)} is missing; the backup cannot be trusted.`);
  }
  if (!expected) {
    throw new BackupIntegrityError(`${sidecarPath(path)}: not a sha256sum line ("<64 hex>  <file name>").`);
  }
  const actual = await sha256File(path);
  if (actual !== expected) {
    throw new BackupIntegrityError(`${path}: SHA-256 is ${actual} but its sidecar says ${expected}; the backup is corrupt.`);
  }
  return actual;
}

const FOLDER_SUMS = 'SHA256SUMS';

/** Digests every file of a backup folder into its SHA256SUMS (sha256sum -c format). */
export async function writeFolderSums(dir: string): Promise<{ sidecar: string; files: ArtifactFile[] }> {
  const files: ArtifactFile[] = [];
  for (const entry of (await readdir(dir, { recursive: true, withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isFile() || entry.name === FOLDER_SUMS) continue;
    const path = join(entry.parentPath, entry.name);
    const name = path.slice(dir.length + 1);
    const { size } = await stat(path);
    files.push({ name, sizeBytes: size, sha256: await sha256File(path) });
  }
  const sidecar = join(dir, FOLDER_SUMS);
  await writeFile(sidecar, files.map((f) => `${f.sha256}  ${f.name}\n`).join(''));
  return { sidecar, files };
}

/** Throws BackupIntegrityError naming each file that is missing or changed since its SHA256SUMS was written. */
export async function verifyFolderSums(dir: string): Promise<void> {
  let listing: string;
  try {
    listing = await readFile(join(dir, FOLDER_SUMS), 'utf8');
  } catch {
    throw new BackupIntegrityError(`${dir}: ${FOLDER_SUMS} is missing; the backup cannot be trusted.`);
  }
  const problems: string[] = [];
  for (const line of listing.split('\n').filter(Boolean)) {
    const match = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (!match) {
      problems.push(`${FOLDER_SUMS}: not a sha256sum line: ${line}`);
      continue;
    }
    const actual = await sha256File(join(dir, match[2]!)).catch(() => 'missing');
    if (actual !== match[1]) problems.push(`${match[2]}: ${actual === 'missing' ? 'missing' : `SHA-256 is ${actual}, expected ${match[1]}`}`);
  }
  if (problems.length) throw new BackupIntegrityError(`${dir}: the backup is corrupt: ${problems.join('; ')}`);
}
