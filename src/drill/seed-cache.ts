/**
 * What makes two seeds the same, so a drill may start from a cached cluster
 * instead of seeding: the harness version, its row hash and the seed's schema, the dataset
 * (scale, seed), the day the rows end on, the database's name, and the
 * server's binaries and TimescaleDB versions. Anything else differs between
 * drills only after the seed.
 */
import { createHash } from 'node:crypto';
import { ROW_HASH } from '../checks/snapshot.js';
import { scaleOf, type ScaleSetting } from '../dataset/scale.js';
import { SCHEMA_SQL, TIMESCALE_SQL } from '../dataset/schema.js';
import { dataEnd } from '../dataset/seed.js';
import type { Engine } from '../engines/types.js';
import { VERSION } from '../support/version.js';

export interface SeedIdentity {
  key: string;
  /** The day the seeded rows end on (YYYY-MM-DD). */
  day: string;
}

export async function seedIdentity(engine: Engine, dataset: { scale: ScaleSetting; seed: number }, database: string): Promise<SeedIdentity> {
  const day = new Date(dataEnd()).toISOString().slice(0, 10);
  const identity = {
    harness: VERSION,
    // The entry keeps its tables' fingerprints (the drill's baseline): another row hash must not compare with them.
    rowHash: ROW_HASH,
    schema: createHash('sha256').update(SCHEMA_SQL).update(JSON.stringify(TIMESCALE_SQL)).digest('hex'),
    scale: scaleOf(dataset.scale),
    seed: dataset.seed,
    day,
    database,
    server: (({ kind, binaries, version, image }) => ({ kind, binaries, version, image }))(engine.describe()),
    timescaledb: (await engine.timescaleVersions?.()) ?? [],
  };
  return { key: createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16), day };
}
