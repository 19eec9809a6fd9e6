/**
 * Seeded clusters kept across runs: seeding the same rows for every drill is
 * most of a drill's time at `medium` and above, so a cluster is seeded once
 * per key (dataset, seed, day, binaries or image, harness version), stopped
 * cleanly, and filed here; each drill's instance starts from a copy of it (a
 * reflink copy where the filesystem has one). Both engines keep their data
 * folders on the host, so both file and copy them the same way.
 *
 * The folder is RESTORE_DRILL_CACHE, or restore-drill/ in the user's cache
 * folder; RESTORE_DRILL_CACHE=off seeds every drill afresh. An entry is
 * filed under a temp name and renamed into place, so a half-built entry is
 * never used and two runs (or two drills of one run) building the same one
 * do not clash. initdb's empty cluster, which every native run copies its
 * instances from, is kept here too (`initdb-` entries).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { runCommand, TOOL_TIMEOUT_MS, type CommandContext } from '../../exec/command.js';
import { withClient } from '../../pg/client.js';
import { spareWalSegments } from '../../pg/control.js';
import { isAlive } from '../../support/processes.js';
import type { Instance, SeededCluster } from '../types.js';

const ENTRY_PREFIX = 'seed-';
/** initdb's empty clusters, kept beside the seeded ones (see cachedEmptyCluster). */
const EMPTY_PREFIX = 'initdb-';
const isEntry = (name: string) => name.startsWith(ENTRY_PREFIX) || name.startsWith(EMPTY_PREFIX);
const META = 'meta.json';

/** What a cache entry holds besides the cluster: the facts its seed reported, and when. */
interface CachedCluster {
  key: string;
  /** The data folder of the cleanly stopped cluster. */
  dataDir: string;
  builtAt: string;
  /** What the seed said of itself (rows per table, layout), as the drill records it. */
  facts: Record<string, unknown>;
  /** The day the seeded rows end on; entries of other days are stale. */
  day: string;
}

/** The cache folder, or undefined when the cache is turned off. */
function seedCacheRoot(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = env.RESTORE_DRILL_CACHE;
  if (setting === 'off') return undefined;
  if (setting) return setting;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'restore-drill');
}

async function findCached(root: string, key: string, prefix = ENTRY_PREFIX): Promise<CachedCluster | undefined> {
  const dir = join(root, `${prefix}${key}`);
  try {
    const meta = JSON.parse(await readFile(join(dir, META), 'utf8')) as Omit<CachedCluster, 'dataDir'>;
    return { ...meta, dataDir: join(dir, 'data') };
  } catch {
    return undefined;
  }
}

/**
 * Files a stopped cluster's data folder under `key` (copied, so the builder's
 * folder is removed as usual) and removes the entries of other days. Another
 * run that filed the same key first wins; ours is dropped.
 */
async function fileCluster(
  root: string,
  entry: Omit<CachedCluster, 'dataDir'>,
  dataDir: string,
  ctx: CommandContext,
  prefix = ENTRY_PREFIX,
): Promise<CachedCluster> {
  await mkdir(root, { recursive: true });
  // Unique per call, the pid last: two drills of one run (--jobs) may file the same key at once.
  const staging = join(root, `.building-${entry.key}-${randomBytes(4).toString('hex')}-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { mode: 0o700 });
  try {
    await runCommand('cp', ['-a', '--reflink=auto', dataDir, join(staging, 'data')], { ...ctx, runAs: undefined }, { timeoutMs: TOOL_TIMEOUT_MS });
    await writeFile(join(staging, META), `${JSON.stringify(entry, null, 2)}\n`);
    await rename(staging, join(root, `${prefix}${entry.key}`));
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    const filed = await findCached(root, entry.key, prefix);
    if (filed) return filed;
    throw error;
  }
  await pruneOtherDays(root, entry.day);
  return { ...entry, dataDir: join(root, `${prefix}${entry.key}`, 'data') };
}

/** A seed's rows end on the day it ran: an entry of another day differs from a fresh seed, and goes. */
async function pruneOtherDays(root: string, day: string): Promise<void> {
  for (const name of await readdir(root)) {
    // An entry a killed run was building is of no use to anyone.
    const builder = /^\.building-.+-(\d+)$/.exec(name);
    if (builder && !isAlive(Number(builder[1]))) await rm(join(root, name), { recursive: true, force: true });
    if (!isEntry(name)) continue;
    const meta = await readFile(join(root, name, META), 'utf8').then((text) => JSON.parse(text) as { day?: string }, () => undefined);
    if (meta?.day !== day) await rm(join(root, name), { recursive: true, force: true });
  }
}

/** Removes every entry (`restore-drill clean`); returns their folders. Entries being built by a live run are left. */
export async function clearSeedCache(root: string | undefined = seedCacheRoot()): Promise<string[]> {
  if (!root) return [];
  const removed: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!isEntry(name)) continue;
    await rm(join(root, name), { recursive: true, force: true });
    removed.push(join(root, name));
  }
  return removed;
}

/**
 * The seeded cluster for `key`: filed earlier, or seeded now on a new
 * instance of the engine (`start`), stopped cleanly and filed. Undefined
 * when the cache is turned off.
 */
export async function cachedOrSeeded(
  entry: { key: string; day: string },
  start: () => Promise<Instance & { stop(): Promise<void>; destroy(options: { keepFiles: boolean }): Promise<unknown> }>,
  seed: (instance: Instance) => Promise<Record<string, unknown>>,
  ctx: CommandContext,
): Promise<SeededCluster | undefined> {
  const root = seedCacheRoot();
  if (!root) return undefined;
  const found = await findCached(root, entry.key);
  if (found) return { ...found, builtNow: false };
  const builder = await start();
  try {
    const facts = await seed(builder);
    await shedWal(builder);
    // A clean stop writes every page: the copy needs no crash recovery, and each start from it is quick.
    await builder.stop();
    if (!builder.dataDir) throw new Error('a seed-cache builder has its data folder on the host');
    // Checkpoints remove the segments behind, not those renamed ahead for reuse: each copy would carry them.
    for (const segment of await spareWalSegments(builder.dataDir)) await rm(join(builder.dataDir, 'pg_wal', segment));
    const filed = await fileCluster(root, { ...entry, builtAt: new Date().toISOString(), facts }, builder.dataDir, ctx);
    return { ...filed, builtNow: true };
  } finally {
    await builder.destroy({ keepFiles: false });
  }
}

/**
 * initdb's empty cluster, filed like a seeded one: initdb costs a second of
 * CPU in every run, a copy of its result a tenth of that. The folder of the
 * cached data, undefined when there is none or the cache is turned off.
 */
export async function cachedEmptyCluster(key: string): Promise<string | undefined> {
  const root = seedCacheRoot();
  return root ? (await findCached(root, key, EMPTY_PREFIX))?.dataDir : undefined;
}

/** Files a fresh initdb's data folder for the next runs (the day is the seeds' day, so both are pruned together). */
export async function fileEmptyCluster(key: string, dataDir: string, ctx: CommandContext): Promise<void> {
  const root = seedCacheRoot();
  if (root) await fileCluster(root, { key, day: new Date().toISOString().slice(0, 10), builtAt: new Date().toISOString(), facts: {} }, dataDir, ctx, EMPTY_PREFIX);
}

/**
 * A seed leaves up to max_wal_size of WAL segments kept for reuse: a gigabyte
 * at `medium`, copied into every drill for nothing. A checkpoint with the
 * bounds lowered for a moment removes those behind it (the ones already
 * renamed ahead go after the stop, see spareWalSegments); the settings are
 * put back before the cluster is filed, so copies run with the defaults.
 */
async function shedWal(instance: Instance): Promise<void> {
  await withClient(
    () => instance.connect('postgres'),
    async (client) => {
      await client.query(`alter system set min_wal_size = '32MB'`);
      await client.query(`alter system set max_wal_size = '32MB'`);
      await client.query('select pg_reload_conf()');
      await client.query('checkpoint');
      await client.query('select pg_switch_wal()');
      await client.query('checkpoint');
      await client.query('alter system reset min_wal_size');
      await client.query('alter system reset max_wal_size');
      await client.query('select pg_reload_conf()');
    },
  );
}
