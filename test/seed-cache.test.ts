/**
 * The seed cache: a drill that starts from a copy of a cached seeded cluster
 * holds exactly the rows a fresh seed gives, the cache is built once and then
 * copied (by later runs too: each run's engine has its own password, which the
 * copy's superuser takes over), and a cache that is turned off seeds afresh.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DrillJournal } from '../src/model/journal.js';
import { drillYaml, runDrills, tempDir, writeDrill } from './helpers.js';

const drills = tempDir('cache-drills');
const reports = tempDir('cache-reports');
const sharedCache = process.env.RESTORE_DRILL_CACHE;
afterEach(() => {
  process.env.RESTORE_DRILL_CACHE = sharedCache;
});

async function runWithCache(cache: string, name: string): Promise<DrillJournal> {
  process.env.RESTORE_DRILL_CACHE = cache;
  const file = writeDrill(drills, drillYaml({ name, dataset: { scale: 'tiny', seed: 11 } }));
  return (await runDrills([file], reports)).journal.drills[0]!;
}

/** The seeded rows' state at the backup, per table, as the content checks compare it. */
function seededState(drill: DrillJournal): unknown {
  return drill.phases.find((p) => p.name === 'baseline')!.detail!.tables;
}

describe('seed cache', () => {
  it('builds once, then copies; the copy holds exactly what a fresh seed holds, and passes', async () => {
    const cache = tempDir('cache');
    const built = await runWithCache(cache, 'cache-built');
    const copied = await runWithCache(cache, 'cache-copied');
    const fresh = await runWithCache('off', 'cache-off');

    expect(built.dataset!.cache).toMatchObject({ builtNow: true });
    expect(copied.dataset!.cache).toMatchObject({ builtNow: false, key: built.dataset!.cache!.key });
    expect(fresh.dataset!.cache).toBeUndefined();
    expect(built.phases[0]!.detail).toMatchObject({ seedCache: 'built' });
    expect(copied.phases[0]!.detail).toMatchObject({ seedCache: 'copied' });
    expect(readdirSync(cache).filter((name) => name.startsWith('seed-'))).toHaveLength(1);

    for (const drill of [built, copied, fresh]) expect(drill.verdict, drill.name).toBe('pass');
    expect(copied.dataset!.rows).toEqual(fresh.dataset!.rows);
    // Fingerprints of every seeded table, equal to the last bit.
    expect(seededState(copied)).toEqual(seededState(fresh));
    expect(seededState(built)).toEqual(seededState(fresh));
  });

  it('another dataset seed is another entry, never a wrong copy', async () => {
    const cache = tempDir('cache-two');
    process.env.RESTORE_DRILL_CACHE = cache;
    const first = (await runDrills([writeDrill(drills, drillYaml({ name: 'cache-seed-a', dataset: { scale: 'tiny', seed: 1 } }))], reports)).journal.drills[0]!;
    const second = (await runDrills([writeDrill(drills, drillYaml({ name: 'cache-seed-b', dataset: { scale: 'tiny', seed: 2 } }))], reports)).journal.drills[0]!;
    expect(second.dataset!.cache!.key).not.toBe(first.dataset!.cache!.key);
    expect(second.dataset!.cache!.builtNow).toBe(true);
    expect(seededState(second)).not.toEqual(seededState(first));
    expect(readdirSync(cache).filter((name) => name.startsWith('seed-'))).toHaveLength(2);
    // Nothing of a build is left beside the entries.
    expect(readdirSync(cache).filter((name) => !name.startsWith('seed-'))).toEqual([]);
    expect(existsSync(join(cache, `seed-${first.dataset!.cache!.key}`, 'meta.json'))).toBe(true);
  });
});
