/**
 * A backup damaged after its checksum was written, as a bad disk, a flaky
 * upload or a half-finished copy leaves it: bytes flipped at an offset, or the
 * file cut short. The pristine bytes are kept aside so the fault can be healed.
 */
import { copyFile, open, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupArtifact } from '../backup/artifact.js';
import { streamFor } from '../dataset/prng.js';

export interface Corruption {
  file: string;
  mode: 'flip' | 'truncate';
  offset: number;
  bytes: number;
  sizeBefore: number;
  /** Puts the pristine file back. */
  heal: () => Promise<void>;
}

/** The file of an artifact that holds its data: the dump itself, or a base backup's base.tar.gz. */
export function dataFileOf(backup: BackupArtifact): string {
  return backup.method === 'pg_basebackup' ? join(backup.path, 'base.tar.gz') : backup.path;
}

export async function corruptFile(
  file: string,
  mode: 'flip' | 'truncate',
  offset: number | 'random',
  bytes: number,
  seed: number,
): Promise<Corruption> {
  const { size } = await stat(file);
  // Past the first 4 KiB (headers fail too loudly to be interesting) and before the end.
  const at = offset === 'random' ? 4096 + Math.floor(streamFor(seed, `corrupt:${file}`)() * Math.max(1, size - 4096 - bytes)) : Math.min(offset, size - 1);
  const pristine = `${file}.pristine`;
  await copyFile(file, pristine);
  if (mode === 'truncate') {
    await truncate(file, at);
  } else {
    const handle = await open(file, 'r+');
    try {
      const buffer = Buffer.alloc(bytes);
      await handle.read(buffer, 0, bytes, at);
      for (let i = 0; i < buffer.length; i++) buffer[i] = buffer[i]! ^ 0xff;
      await handle.write(buffer, 0, bytes, at);
    } finally {
      await handle.close();
    }
  }
  return {
    file,
    mode,
    offset: at,
    bytes: mode === 'flip' ? bytes : size - at,
    sizeBefore: size,
    heal: async () => {
      await rm(file, { force: true });
      await rename(pristine, file);
    },
  };
}
