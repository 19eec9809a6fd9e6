/**
 * SHA-256 sidecars in `sha256sum` format ("<hex>  <name>"), as the teams'
 * scripts write them, so `sha256sum -c` works on our artifacts too. A backup
 * is checked against its sidecar before any restore trusts it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BackupIntegrityError } from '../errors.js';

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

export function sidecarPath(path: string): string {
  return `${path}.sha256`;
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
