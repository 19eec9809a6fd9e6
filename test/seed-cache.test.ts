/**
 * The seed cache: a drill that starts from a copy of a cached seeded cluster
 * holds exactly the rows a fresh seed gives, the cache is built once and then
 * copied (by later runs too: each run's engine has its own password, which the
 * copy's superuser takes over), and a cache that is turned off seeds afresh.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeEngine } from '../src/engines/native/engine.js';
import type { Instance } from '../src/engines/types.js';
import type { CommandRecord, DrillJournal } from '../src/model/journal.js';
import { connectTo, withClient } from '../src/pg/client.js';
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
    // The copy's baseline is the entry's, read when it was built; the copy's own data is what gets backed up and restored.
    expect(copied.phases.find((p) => p.name === 'baseline')!.detail).toMatchObject({ tablesReadWith: 'the seed cache entry' });

    // An entry whose recorded fingerprints do not match its cluster (here: one changed on purpose) fails the drill: it can never make one pass.
    const meta = join(cache, `seed-${built.dataset!.cache!.key}`, 'meta.json');
    const entry = JSON.parse(readFileSync(meta, 'utf8')) as { facts: { tables: Record<string, { fingerprint: string }> } };
    entry.facts.tables.candles!.fingerprint = '12345';
    writeFileSync(meta, JSON.stringify(entry));
    const lied = await runWithCache(cache, 'cache-lied');
    expect(lied.dataset!.cache).toMatchObject({ builtNow: false });
    expect(lied.checks.find((c) => c.name === 'fingerprint')).toMatchObject({ verdict: 'fail', summary: expect.stringContaining('candles') });
    expect(lied.verdict).toBe('fail');
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
    // Nothing of a build is left beside the entries (seeded clusters, and initdb's empty one).
    expect(readdirSync(cache).filter((name) => !name.startsWith('seed-') && !name.startsWith('initdb-'))).toEqual([]);
    expect(existsSync(join(cache, `seed-${first.dataset!.cache!.key}`, 'meta.json'))).toBe(true);
  });

  it("keeps initdb's empty cluster too: the next run copies it instead of running initdb, and its servers take that run's password", async () => {
    const cache = tempDir('cache-initdb');
    process.env.RESTORE_DRILL_CACHE = cache;
    const runs: CommandRecord[][] = [];
    for (const runId of ['initdba', 'initdbb']) {
      const commands: CommandRecord[] = [];
      runs.push(commands);
      const engine = await NativeEngine.create({ runId, record: (command) => commands.push(command) });
      try {
        const instance = await engine.startInstance('empty', tempDir('initdb-logs'));
        try {
          // Connecting proves the password: the cached cluster was made with the first run's.
          const one = await withClient(() => instance.connect('postgres'), async (client) => (await client.query<{ one: number }>('select 1 as one')).rows[0]!.one);
          expect(one).toBe(1);
        } finally {
          await instance.destroy({ keepFiles: false });
        }
      } finally {
        await engine.dispose();
      }
    }
    const ran = (commands: CommandRecord[], tool: string) => commands.filter((c) => c.command.split(' ')[0]!.endsWith(`/${tool}`)).length;
    expect(ran(runs[0]!, 'initdb')).toBe(1);
    expect(ran(runs[1]!, 'initdb')).toBe(0);
    expect(runs[1]!.some((c) => c.command.startsWith('cp ') && c.command.includes(join(cache, 'initdb-')))).toBe(true);
    expect(readdirSync(cache).filter((name) => name.startsWith('initdb-'))).toHaveLength(1);
  });

  it("gives a copy this run's password over its socket: no single-user server, the builder's password refused, and no password in a log of every statement", async () => {
    process.env.RESTORE_DRILL_CACHE = tempDir('cache-password');
    const logs = tempDir('cache-password-logs');
    const builder = await NativeEngine.create({ runId: 'cachepwa', record: () => undefined });
    const commands: CommandRecord[] = [];
    const copier = await NativeEngine.create({ runId: 'cachepwb', record: (command) => commands.push(command) });
    try {
      const filed = await builder.seededCluster('password', new Date().toISOString().slice(0, 10), logs, async () => ({}));
      const copy = await copier.startInstance('from-cache', logs, { cluster: filed!.dataDir, settings: { log_statement: 'all' } });
      try {
        expect(await withClient(() => copy.connect('postgres'), async (client) => (await client.query<{ one: number }>('select 1 as one')).rows[0]!.one)).toBe(1);
        await expect(withClient(() => connectTo({ ...copy.connection, password: builder.secrets[0]! }, 'postgres'), async () => undefined)).rejects.toThrow(/password authentication failed/);
        expect(commands.map((c) => c.command).join('\n')).not.toMatch(/--single/);
        expect(commands.map((c) => c.command).join('\n')).toMatch(/ready by probe; the superuser given this run's password over its socket first\)/);
        const log = readFileSync(copy.logFile, 'utf8');
        // The statement carried the password's SCRAM verifier, which the server stored as it was.
        expect(log).toMatch(/statement: ALTER ROLE postgres PASSWORD 'SCRAM-SHA-256\$4096:/);
        for (const secret of [...copier.secrets, ...builder.secrets]) expect(log).not.toContain(secret);
      } finally {
        await copy.destroy({ keepFiles: false });
      }
    } finally {
      await builder.dispose();
      await copier.dispose();
    }
  });

  it('files a cluster without the WAL segments renamed ahead for reuse, and a copy of it starts with every row', async () => {
    process.env.RESTORE_DRILL_CACHE = tempDir('cache-wal');
    const engine = await NativeEngine.create({ runId: 'cachewal', record: () => undefined });
    const logs = tempDir('cache-wal-logs');
    try {
      // A bulk load with checkpoints between: the checkpoints rename the segments behind into spares ahead.
      const load = async (instance: Instance) => {
        await withClient(() => instance.connect('postgres'), async (client) => {
          await client.query('create table filler (id bigint, pad text)');
          for (let round = 0; round < 4; round++) {
            await client.query(`insert into filler select g, repeat('x', 100) from generate_series(1, 400000) g`);
            await client.query('checkpoint');
          }
        });
        return {};
      };
      const filed = await engine.seededCluster('walshed', new Date().toISOString().slice(0, 10), logs, load);
      const segments = readdirSync(join(filed!.dataDir, 'pg_wal')).filter((name) => /^[0-9A-F]{24}$/.test(name));
      expect(segments.length).toBeLessThanOrEqual(2);
      const copy = await engine.startInstance('from-cache', logs, { cluster: filed!.dataDir });
      try {
        const rows = await withClient(() => copy.connect('postgres'), async (client) => (await client.query<{ n: string }>('select count(*) as n from filler')).rows[0]!.n);
        expect(rows).toBe('1600000');
      } finally {
        await copy.destroy({ keepFiles: false });
      }
    } finally {
      await engine.dispose();
    }
  });
});
