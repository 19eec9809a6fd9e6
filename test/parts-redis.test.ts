/**
 * The Redis part against a real redis-server: each fault struck, recovered
 * the runbook's way, and judged by the facts the part reports. Where Redis is
 * not installed these tests skip and say why; RESTORE_DRILL_REQUIRE_REDIS=1
 * (CI) makes that a failure.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandRecord } from '../src/model/journal.js';
import type { PartState } from '../src/model/parts.js';
import type { PartHost } from '../src/parts/part.js';
import { redisPart, startRedis, type RedisInstance, type RedisPartSpec } from '../src/parts/redis.js';
import { now, sleep } from '../src/support/clock.js';

const REQUIRED = process.env.RESTORE_DRILL_REQUIRE_REDIS === '1';
const available = await redisPart.available();

const parse = (fields: Record<string, unknown>) => redisPart.schema.parse({ kind: 'redis', ...fields }) as RedisPartSpec;

describe('Redis availability', () => {
  it.runIf(REQUIRED)('is required here (RESTORE_DRILL_REQUIRE_REDIS=1): redis-server and its tools are on PATH', () => {
    expect(available).toEqual({ ok: true });
  });
});

describe('redis part schema', () => {
  it('fills the defaults', () => {
    expect(parse({ fault: { type: 'flushall' } })).toEqual({ kind: 'redis', name: 'redis', persistence: 'rdb', generations: 1, keys: 2000, writeRate: 50, fault: { type: 'flushall' }, repair: true });
  });
  it('refuses a fault its persistence cannot have, saying which it needs', () => {
    expect(() => parse({ fault: { type: 'truncate-aof' } })).toThrow(/truncate-aof damages an AOF, so it needs persistence: aof/);
    expect(() => parse({ persistence: 'aof', fault: { type: 'corrupt-rdb' } })).toThrow(/needs persistence: rdb/);
    expect(() => parse({ fault: { type: 'flushall' }, generations: 6 })).toThrow();
  });
});

/** Whether anything still listens on the port: a disposed part leaves nothing running. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const sameState = (found: PartState | { unreachable: string }, expected: PartState) => {
  expect(found).toMatchObject({ items: expected.items, fingerprint: expected.fingerprint });
};

describe.skipIf(!available.ok)(`redis part${available.ok ? '' : ` (skipped: ${available.why})`}`, () => {
  let root: string;
  let records: CommandRecord[];
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'rd-redis-'));
    records = [];
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const hostOf = (seed = 42, label = 'part'): PartHost => ({ workDir: join(root, label), logDir: join(root, 'logs'), seed, commands: { record: (record) => records.push(record) } });

  /** A whole drill of the part: seed, writes, backups `gapMs` apart, the fault, recovery, and what came back. */
  async function drill(fields: Record<string, unknown>, gapMs = 500) {
    const spec = parse(fields);
    const part: RedisInstance = await startRedis(hostOf(), spec);
    try {
      await part.seed();
      await part.startWrites();
      await sleep(500);
      const taken = [];
      for (let generation = 0; generation < spec.generations; generation++) {
        const before = now();
        taken.push({ before, ...(await part.backup()) });
        await sleep(gapMs);
      }
      const fault = await part.strike();
      await sleep(200);
      await part.stopWrites();
      const recovery = await part.recover();
      return { taken, fault, recovery, found: await part.read(), writes: await part.writes(fault.at), commands: records.map((record) => record.command) };
    } finally {
      await part.dispose(false);
      await part.dispose(false);
      expect(await listening(part.port)).toBe(false);
    }
  }

  it('RDB, FLUSHALL: the BGSAVE copy comes back equal; writes acknowledged before the backup all return, later ones are lost', async () => {
    const { taken, fault, recovery, found, writes, commands } = await drill({ fault: { type: 'flushall' } });
    expect(recovery).toMatchObject({ ok: true, usedBackup: taken[0]!.backup.path });
    expect(recovery.integrity.map((step) => [step.check, step.ok])).toEqual([['sha256', true], ['redis-check-rdb', true]]);
    expect(taken[0]!.state.items).toBe(2000);
    sameState(found, taken[0]!.state);
    if (!('lost' in writes)) throw new Error(writes.unread);
    expect(writes.lost).toBeGreaterThan(0);
    expect(writes.lossMs).toBeGreaterThan(0);
    // Every lost write was acknowledged after the backup began: none from before it is missing.
    expect(writes.lossMs).toBeLessThanOrEqual(fault.at.mono - taken[0]!.before.mono);
    expect(writes.lost).toBeLessThanOrEqual(writes.afterBackup);
    expect(writes.recovered).toBe(writes.acknowledged - writes.lost);
    expect(commands.some((command) => command.endsWith(' BGSAVE'))).toBe(true);
    expect(commands.some((command) => command.endsWith(' FLUSHALL'))).toBe(true);
    expect(commands.some((command) => command.startsWith('redis-check-rdb '))).toBe(true);
  });

  it('AOF everysec, lost instance: the copied AOF folder comes back; the loss is the writes after the copy', async () => {
    const { taken, fault, recovery, found, writes } = await drill({ persistence: 'aof', fault: { type: 'lose-instance' } });
    expect(recovery).toMatchObject({ ok: true, usedBackup: taken[0]!.backup.path });
    expect(fault.summary).toMatch(/SIGKILL/);
    sameState(found, taken[0]!.state);
    if (!('lost' in writes)) throw new Error(writes.unread);
    expect(writes.lost).toBeGreaterThan(0);
    expect(writes.lossMs).toBeGreaterThan(0);
    expect(writes.lossMs).toBeLessThan(3000);
    expect(writes.lossMs).toBeLessThanOrEqual(fault.at.mono - taken[0]!.before.mono);
  });

  it('truncate-aof: redis-check-aof --fix cuts the broken last record, says so, and the rest comes back', async () => {
    const { taken, recovery, found, writes } = await drill({ persistence: 'aof', fault: { type: 'truncate-aof' } });
    expect(recovery.ok).toBe(true);
    expect(recovery.repair?.tool).toBe('redis-check-aof --fix');
    expect(recovery.repair?.detail).toMatch(/This will shrink .* bytes.*Successfully truncated/);
    expect(recovery.integrity.map((step) => [step.check, step.ok])).toEqual([['sha256', true], ['redis-check-aof', true]]);
    sameState(found, taken[0]!.state);
    if (!('lost' in writes)) throw new Error(writes.unread);
    expect(writes.lost).toBeGreaterThan(0);
    expect(writes.lossMs).toBeGreaterThan(0);
  });

  it('truncate-aof without repair: the AOF fails redis-check-aof and is not used', async () => {
    const { recovery, found } = await drill({ persistence: 'aof', fault: { type: 'truncate-aof' }, repair: false });
    expect(recovery.ok).toBe(false);
    expect(recovery.error).toMatch(/redis-check-aof: .*not valid/);
    expect(found).toHaveProperty('unreachable');
  });

  it('corrupt-aof: the checksum carries the damage, redis-check-aof finds it, and a blind --fix cuts seeded keys away', async () => {
    const strict = await drill({ persistence: 'aof', fault: { type: 'corrupt-aof' }, repair: false });
    expect(strict.recovery.integrity.map((step) => [step.check, step.ok])).toEqual([['sha256', true], ['redis-check-aof', false]]);
    expect(strict.recovery.ok).toBe(false);
    const repaired = await drill({ persistence: 'aof', fault: { type: 'corrupt-aof' } });
    expect(repaired.recovery.ok).toBe(true);
    expect(repaired.recovery.repair?.detail).toMatch(/truncated/);
    expect(repaired.found).toHaveProperty('items');
    expect((repaired.found as PartState).items).toBeLessThan(repaired.taken[0]!.state.items);
  });

  it('corrupt-rdb with two generations: sha256 catches the newest, the one before is used and equals its own state', async () => {
    const { taken, recovery, found } = await drill({ fault: { type: 'corrupt-rdb' }, generations: 2 }, 300);
    expect(recovery.ok).toBe(true);
    expect(recovery.integrity.map((step) => [step.check, step.ok])).toEqual([['sha256', false], ['sha256', true], ['redis-check-rdb', true]]);
    expect(recovery.usedBackup).toBe(taken[0]!.backup.path);
    expect(taken[0]!.state.fingerprint).toBe(taken[1]!.state.fingerprint);
    sameState(found, taken[0]!.state);
  });

  it('corrupt-rdb with one generation: the recovery fails, naming the check', async () => {
    const { recovery, found } = await drill({ fault: { type: 'corrupt-rdb' } });
    expect(recovery.ok).toBe(false);
    expect(recovery.error).toMatch(/the last failed sha256: dump_.*\.rdb/);
    expect(recovery.integrity).toHaveLength(1);
    expect(found).toHaveProperty('unreachable');
  });

  it('a restore that did not happen, or changed one field, does not match', async () => {
    const part = await startRedis(hostOf(), parse({ fault: { type: 'flushall' }, keys: 400 }));
    try {
      await part.seed();
      const { state } = await part.backup();
      await part.strike();
      // Empty, as a server that started without its backup.
      expect(await part.read()).toMatchObject({ items: 0 });
      expect((await part.read()) as PartState).not.toMatchObject({ fingerprint: state.fingerprint });
      expect((await part.recover()).ok).toBe(true);
      sameState(await part.read(), state);
      const client = createClient({ socket: { host: '127.0.0.1', port: part.port } });
      await client.connect();
      await client.hSet('book:AAAB', 'bid1', '0.01:1');
      client.destroy();
      const nudged = (await part.read()) as PartState;
      expect(nudged.items).toBe(state.items);
      expect(nudged.fingerprint).not.toBe(state.fingerprint);
      expect(Object.keys(state.perItem!).filter((key) => state.perItem![key] !== nudged.perItem![key])).toEqual(['book:AAAB']);
    } finally {
      await part.dispose(false);
    }
  });

  it('the same seed gives the same keys; another seed other keys', async () => {
    const stateOf = async (seed: number, label: string) => {
      const part = await startRedis(hostOf(seed, label), parse({ fault: { type: 'flushall' }, keys: 400 }));
      try {
        await part.seed();
        return (await part.read()) as PartState;
      } finally {
        await part.dispose(false);
      }
    };
    const first = await stateOf(7, 'a');
    expect(first.items).toBe(400);
    expect(await stateOf(7, 'b')).toEqual(first);
    expect((await stateOf(8, 'c')).fingerprint).not.toBe(first.fingerprint);
  });
});
