/**
 * A drill needs room in the temp folder for its cluster, a backup of it and a
 * restored copy: about three times the seeded cluster. Checked before any
 * instance starts, so a `large` drill on a small disk fails in a second with
 * what it needs, not after an hour of seeding with a full disk.
 */
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { scaleOf, type ScaleSetting } from '../dataset/scale.js';
import { SetupError } from '../errors.js';
import { formatBytes } from '../support/units.js';

const CLUSTERS_PER_DRILL = 3;

export async function checkRoom(scale: ScaleSetting, folder = tmpdir()): Promise<void> {
  const needed = scaleOf(scale).clusterBytes * CLUSTERS_PER_DRILL;
  const { bavail, bsize } = await statfs(folder);
  const free = Number(bavail) * Number(bsize);
  if (free < needed) {
    throw new SetupError(
      'DISK_SPACE',
      `${folder} has ${formatBytes(free)} free; a drill at scale ${scale} needs about ${formatBytes(needed)} there (its cluster, a backup and a restored copy). ` +
        'Free space there, or set TMPDIR to a folder on a larger disk',
    );
  }
}
