/**
 * A backup damaged, as a bad disk, a flaky upload or a half-finished copy
 * leaves it: bytes flipped at an offset, or the file cut short; then the
 * incident that needs it strikes. The pristine bytes are kept aside, outside
 * the backup, so the fault can be healed.
 */
import { copyFile, mkdir, open, rename, rm, stat, truncate } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { backupMethod } from '../backup/index.js';
import { streamFor } from '../dataset/prng.js';
import { FaultError } from '../errors.js';
import { oneOf } from '../support/fields.js';
import { defineFault } from './fault.js';
import { incidentDetail, INCIDENTS, strike } from './incidents.js';

const detail = z.strictObject({
  corrupted: z.strictObject({
    file: z.string(),
    mode: z.enum(['flip', 'truncate']),
    offset: z.number(),
    bytes: z.number(),
    sizeBefore: z.number(),
    checksum: z.enum(['kept', 'recomputed']),
  }),
  ...incidentDetail,
});

declare module '../model/journal.js' {
  interface FaultDetails {
    'corrupt-backup': z.output<typeof detail>;
  }
}

/** XORs `bytes` bytes of a file at `offset` with 0xff. */
export async function flipBytes(file: string, offset: number, bytes: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const buffer = Buffer.alloc(bytes);
    await handle.read(buffer, 0, bytes, offset);
    for (let i = 0; i < buffer.length; i++) buffer[i] = buffer[i]! ^ 0xff;
    await handle.write(buffer, 0, bytes, offset);
  } finally {
    await handle.close();
  }
}

export const corruptBackup = defineFault({
  type: 'corrupt-backup',
  summary: 'the newest backup damaged (bytes flipped or the file cut short), then the database or the instance is lost',
  schema: z.strictObject({
    type: z.literal('corrupt-backup'),
    mode: oneOf(['flip', 'truncate']).default('flip').describe('flip: bytes XORed at the offset; truncate: the file cut at the offset.'),
    offset: z.union([z.number().int().min(0), z.literal('random')]).default('random').describe('A byte offset into the file, or random: the same point of the file (as a share of its size, past the first 4 KiB) for the same dataset seed. The byte offset then follows the file\'s size, which the workload\'s timing moves a little from run to run; give a number for the very same byte.'),
    bytes: z.number().int().min(1).max(4096).default(8).describe('flip: how many bytes to flip; truncate: ignored (the file is cut at the offset).'),
    checksum: oneOf(['kept', 'recomputed'])
      .default('kept')
      .describe(
        "kept: the damage came after the checksum was written (the sidecar catches it); recomputed: before it (a truncated upload checksummed on arrival), so only the format's own checks can: gzip -t, pg_restore, pg_verifybackup.",
      ),
    then: oneOf(INCIDENTS).default('drop-database').describe('The incident that then needs the backup.'),
  }),
  detail,
  requires: { backupFeatures: ['damageable-file'] },
  harm: (spec) => (spec.then === 'lose-instance' ? 'instance-lost' : 'database-lost'),
  label: (spec) => `corrupt-backup (${spec.mode}, checksum ${spec.checksum}), then ${spec.then}`,
  inject: async ({ instance, database, backups, seed }, spec) => {
    const newest = backups.at(-1)!;
    const method = backupMethod(newest.method);
    if (!method.dataFile) throw new FaultError(`corrupt-backup: a ${newest.method} backup has no file to damage`);
    const file = await method.dataFile(newest);
    const { size } = await stat(file);
    // Past the first 4 KiB (headers fail too loudly to be interesting) and before the end.
    const offset =
      spec.offset === 'random' ? 4096 + Math.floor(streamFor(seed, 'corrupt-backup')() * Math.max(1, size - 4096 - spec.bytes)) : Math.min(spec.offset, size - 1);
    const aside = `${newest.path}.pristine`;
    const pristine = join(aside, basename(file));
    await mkdir(aside, { recursive: true });
    await copyFile(file, pristine);
    if (spec.mode === 'truncate') await truncate(file, offset);
    else await flipBytes(file, offset, spec.bytes);
    if (spec.checksum === 'recomputed') await method.rewriteChecksums?.(newest);
    const incident = await strike(spec.then, instance, database);
    const bytes = spec.mode === 'flip' ? spec.bytes : size - offset;
    const what = spec.mode === 'flip' ? `${bytes} bytes flipped at offset ${offset}` : `cut from ${size} to ${offset} bytes`;
    return {
      summary: `newest backup damaged (${file}: ${what}${spec.checksum === 'recomputed' ? ', checksum written after the damage' : ''}), then ${incident.summary}`,
      at: incident.at,
      detail: { corrupted: { file, mode: spec.mode, offset, bytes, sizeBefore: size, checksum: spec.checksum }, ...incident.detail },
      heal: async () => {
        await rm(file, { force: true });
        await rename(pristine, file);
        await rm(aside, { recursive: true, force: true });
        // Checksums written over the damage are written again over the pristine bytes.
        if (spec.checksum === 'recomputed') await method.rewriteChecksums?.(newest);
      },
    };
  },
});
