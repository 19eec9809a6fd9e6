/**
 * A backup that is valid but wrong: it passes every integrity check and
 * restores cleanly, yet holds the wrong data, as a backup script pointed at
 * the wrong thing would make. Only the content checks can catch it.
 */
import { rename, rm } from 'node:fs/promises';
import type { BackupArtifact } from '../backup/artifact.js';
import { sha256File, writeSidecar } from '../backup/checksum.js';
import { dump } from '../backup/pg-dump.js';
import { seedDataset } from '../dataset/seed.js';
import type { Instance } from '../engines/instance.js';

export type WrongKind = 'empty' | 'partial' | 'other-database';

const STAGING = 'market_staging';

/** Replaces the newest backup with a well-formed dump of the wrong data, its checksum made to match. */
export async function replaceWithWrong(instance: Instance, database: string, newest: BackupArtifact, kind: WrongKind, seed: number): Promise<{ heal: () => Promise<void>; detail: Record<string, unknown> }> {
  const format = newest.format === 'plain.gz' ? 'plain.gz' : 'custom';
  let source = database;
  let extra: string[] = [];
  if (kind === 'other-database') {
    // The script dumped staging: same schema, other rows.
    const admin = await instance.connect('postgres');
    await admin.query(`create database ${STAGING}`).finally(() => admin.end());
    const staging = await instance.connect(STAGING);
    await seedDataset(staging, { scale: 'tiny', seed: seed + 1, timescale: false }).finally(() => staging.end());
    source = STAGING;
  } else if (kind === 'empty') {
    extra = ['--schema-only'];
  } else {
    extra = ['--exclude-table-data=trades', '--exclude-table-data=orders'];
  }
  const wrong = await dump(instance, source, format, `${database}_wrong`, extra);
  const pristine = `${newest.path}.pristine`;
  await rename(newest.path, pristine);
  await rename(wrong.path, newest.path);
  await rm(wrong.sidecar, { force: true });
  // The script checksummed what it wrote: the sidecar matches the wrong dump.
  await writeSidecar(newest.path, await sha256File(newest.path));
  return {
    detail: { kind, dumped: source, options: extra, replaced: newest.path },
    heal: async () => {
      await rename(pristine, newest.path);
      await writeSidecar(newest.path, newest.sha256);
    },
  };
}
