/**
 * The Redis part against a real redis-server, on this host and in Docker:
 * each fault struck, recovered the runbook's way, and judged by the facts the
 * part reports. Where Redis is not installed (or Docker and its image are
 * absent) these tests skip and say why; RESTORE_DRILL_REQUIRE_REDIS=1 (and
 * RESTORE_DRILL_REQUIRE_DOCKER=1) in CI make that a failure.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@redis/client';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeContainerLeftovers } from '../src/engines/docker/leftovers.js';
import { dockerClient } from '../src/engines/docker/runtime.js';
import type { CommandRecord } from '../src/model/journal.js';
import type { PartState } from '../src/model/parts.js';
import type { PartHost } from '../src/parts/part.js';
import { redisPart, startRedis, type RedisInstance, type RedisPartSpec } from '../src/parts/redis.js';
import { REDIS_IMAGE } from '../src/parts/redis-container.js';
import { missingBinaries } from '../src/parts/redis-server.js';
import { now, sleep } from '../src/support/clock.js';

const parse = (fields: Record<string, unknown>) => redisPart.schema.parse({ kind: 'redis', ...fields }) as RedisPartSpec;

const REQUIRED = process.env.RESTORE_DRILL_REQUIRE_REDIS === '1';
const available = await redisPart.available();
const REQUIRED_DOCKER = process.env.RESTORE_DRILL_REQUIRE_DOCKER === '1';
const inDocker = await redisPart.available(parse({ engine: 'docker', fault: { type: 'flushall' } }));

describe('Redis availability', () => {
  it.runIf(REQUIRED)('is required here (RESTORE_DRILL_REQUIRE_REDIS=1): redis-server and its tools are on PATH', () => {
    expect(available).toEqual({ ok: true });
  });
});

describe('redis part schema', () => {
  it('fills the defaults', () => {
    expect(parse({ fault: { type: 'flushall' } })).toEqual({ kind: 'redis', name: 'redis', persistence: 'rdb', generations: 1, keys: 2000, writeRate: 50, fault: { type: 'flushall' }, repair: true });
  });
  it('takes an image for engine: docker only, and follows the drill\'s engine when it names none', () => {
    expect(parse({ engine: 'docker', image: 'redis:7', fault: { type: 'flushall' } })).toMatchObject({ engine: 'docker', image: 'redis:7' });
    expect(() => parse({ engine: 'native', image: 'redis:7', fault: { type: 'flushall' } })).toThrow(/image is the image of engine: docker; this part has engine: native/);
    // Without an engine it follows the drill's, or Docker when it names an image.
    expect(parse({ fault: { type: 'flushall' } }).engine).toBeUndefined();
    expect(() => parse({ engine: 'podman', fault: { type: 'flushall' } })).toThrow(/expected one of native, docker/);
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

/** Docker's containers that carry the part's label, running or not. */
async function containersOf(workDir: string): Promise<string[]> {
  return (await execa('docker', ['ps', '-aq', '--filter', `label=restore-drill.part=${workDir}`])).stdout.split('\n').filter(Boolean);
}

/** For the tests of one describe: a temp folder, the journal's commands, and whole drills of the part with `base` fields. */
function useDrills(base: Record<string, unknown> = {}) {
  const run = { root: '', records: [] as CommandRecord[] };
  beforeEach(async () => {
    run.root = await mkdtemp(join(tmpdir(), 'rd-redis-'));
    run.records = [];
  });
  afterEach(async () => {
    await rm(run.root, { recursive: true, force: true });
  });

  const hostOf = (seed = 42, label = 'part'): PartHost => ({ workDir: join(run.root, label), logDir: join(run.root, 'logs'), seed, runId: 'redistest', engine: 'native', commands: { record: (record) => run.records.push(record) } });

  /** A whole drill of the part: seed, writes, backups `gapMs` apart, the fault, recovery, and what came back. */
  async function drill(fields: Record<string, unknown>, gapMs = 500) {
    const spec = parse({ ...base, ...fields });
    const host = hostOf();
    const part: RedisInstance = await startRedis(host, spec);
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
      return { taken, fault, recovery, found: await part.read(), writes: await part.writes(fault.at), commands: run.records.map((record) => record.command), records: run.records };
    } finally {
      await part.dispose(false);
      await part.dispose(false);
      expect(await listening(part.port)).toBe(false);
      if (spec.engine === 'docker') expect(await containersOf(host.workDir)).toEqual([]);
    }
  }
  return { hostOf, drill };
}

/** A truncated AOF repaired by redis-check-aof --fix, in its own words; the seeded keys back; some writes lost. */
function repairedAof({ taken, recovery, found, writes }: Awaited<ReturnType<ReturnType<typeof useDrills>['drill']>>) {
  expect(recovery.ok).toBe(true);
  expect(recovery.repair?.tool).toBe('redis-check-aof --fix');
  expect(recovery.repair?.detail).toMatch(/This will shrink .* bytes.*Successfully truncated/);
  expect(recovery.integrity.map((step) => [step.check, step.ok])).toEqual([['sha256', true], ['redis-check-aof', true]]);
  sameState(found, taken[0]!.state);
  if (!('lost' in writes)) throw new Error(writes.unread);
  expect(writes.lost).toBeGreaterThan(0);
  return writes;
}

describe.skipIf(!available.ok)(`redis part${available.ok ? '' : ` (skipped: ${available.why})`}`, () => {
  const { hostOf, drill } = useDrills();

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

  it('killed, AOF everysec: a restart on its own AOF loses at most about a second of acknowledged writes (measured: a process crash loses what the kernel has not yet been given)', async () => {
    const { taken, recovery, found, writes } = await drill({ persistence: 'aof', fault: { type: 'kill-server' } });
    // No backup copied back, none checked: it came back on its own files.
    expect(recovery).toEqual({ ok: true, integrity: [] });
    sameState(found, taken[0]!.state);
    if (!('lost' in writes)) throw new Error(writes.unread);
    expect(writes.acknowledged).toBeGreaterThan(0);
    expect(writes.lossMs).toBeLessThanOrEqual(1000);
  });

  it('killed, RDB: a restart loads the last snapshot, and the writes since it are lost', async () => {
    const { taken, fault, recovery, found, writes } = await drill({ fault: { type: 'kill-server' } });
    expect(recovery.ok).toBe(true);
    sameState(found, taken[0]!.state);
    if (!('lost' in writes)) throw new Error(writes.unread);
    expect(writes.lost).toBeGreaterThan(0);
    expect(writes.lossMs).toBeLessThanOrEqual(fault.at.mono - taken[0]!.before.mono);
  });

  it('truncate-aof: redis-check-aof --fix cuts the broken last record, says so, and the rest comes back', async () => {
    const writes = repairedAof(await drill({ persistence: 'aof', fault: { type: 'truncate-aof' } }));
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
      // A session back with its fields but without its TTL (as a restore through plain HSETs would leave it).
      const session = Object.keys(state.perItem!).find((key) => key.startsWith('session:'))!;
      await client.connect();
      expect(await client.persist(session)).toBe(1);
      client.destroy();
      const persisted = (await part.read()) as PartState;
      expect(Object.keys(state.perItem!).filter((key) => state.perItem![key] !== persisted.perItem![key])).toEqual(['book:AAAB', session]);
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

describe('Redis in Docker availability', () => {
  it.runIf(REQUIRED_DOCKER)('is required here (RESTORE_DRILL_REQUIRE_DOCKER=1): a Docker engine answers and the image has redis-server', () => {
    expect(inDocker).toEqual({ ok: true });
  });
});

describe.skipIf(!inDocker.ok && !REQUIRED_DOCKER)(`redis part in Docker${inDocker.ok ? '' : ` (${REQUIRED_DOCKER ? 'required, but' : 'skipped:'} ${inDocker.why})`}`, () => {
  const { hostOf, drill } = useDrills({ engine: 'docker' });
  const REDIS_COMMAND = /(^|\s)redis-(server|cli|check-aof|check-rdb)(\s|$)/;

  it('RDB, FLUSHALL: redis-server in a container, BGSAVE through docker exec; the copy comes back equal in a new container, later writes lost', async () => {
    const { taken, recovery, found, writes, commands, records } = await drill({ fault: { type: 'flushall' } });
    expect(recovery).toMatchObject({ ok: true, usedBackup: taken[0]!.backup.path });
    expect(recovery.integrity.map((step) => [step.check, step.ok])).toEqual([['sha256', true], ['redis-check-rdb', true]]);
    sameState(found, taken[0]!.state);
    if (!('lost' in writes)) throw new Error(writes.unread);
    expect(writes.lost).toBeGreaterThan(0);
    expect(writes.lost).toBeLessThanOrEqual(writes.afterBackup);
    expect(writes.recovered).toBe(writes.acknowledged - writes.lost);
    expect(taken[0]!.backup.detail).toMatchObject({ method: 'BGSAVE', server: expect.stringMatching(/^redis-server 7\.\S+ \(container of .+\)$/) });
    expect(String(taken[0]!.backup.detail!.server)).toContain(REDIS_IMAGE);
    // The first container, and the one the recovery started on the same data folder and port.
    const runs = commands.filter((command) => command.startsWith('docker run -d '));
    expect(runs).toHaveLength(2);
    expect(runs[1]!.replace(/--name \S+/, '')).toBe(runs[0]!.replace(/--name \S+/, ''));
    for (const step of ['BGSAVE', 'FLUSHALL', 'SHUTDOWN NOSAVE']) expect(commands).toContainEqual(expect.stringMatching(new RegExp(`^docker exec \\S+ redis-cli -p \\d+ ${step}$`)));
    expect(commands).toContainEqual(expect.stringMatching(/^docker run --rm .*--entrypoint redis-check-rdb \S+ \S+\.rdb$/));
    expect(commands).toContainEqual(expect.stringMatching(/^docker rm -f /));
    // Each Redis command is a docker one, recorded with the image's redis-server (once it said its version).
    const redis = records.filter((record) => REDIS_COMMAND.test(record.command) && !record.command.endsWith(' --version'));
    expect(redis.length).toBeGreaterThan(5);
    for (const record of redis) expect([record.command.split(' ')[0], record.tool]).toEqual(['docker', taken[0]!.backup.detail!.server]);
  });

  it('AOF, truncate-aof, with no Redis on PATH: redis-check-aof --fix runs in a container, answered on stdin, and the rest comes back', async () => {
    const saved = process.env.PATH ?? '';
    const bin = await mkdtemp(join(tmpdir(), 'rd-path-'));
    // Every folder holding redis-server goes (with Debian's merged /usr, /bin with /usr/bin): the drill's cp and docker are linked back.
    const dirs = saved.split(delimiter).filter((dir) => dir && !existsSync(join(dir, 'redis-server')));
    for (const tool of ['docker', 'cp']) {
      const found = saved.split(delimiter).map((dir) => join(dir, tool)).find((path) => existsSync(path));
      if (found) await symlink(found, join(bin, tool));
    }
    process.env.PATH = [bin, ...dirs].join(delimiter);
    try {
      expect(missingBinaries()).toEqual(['redis-server', 'redis-cli', 'redis-check-aof', 'redis-check-rdb']);
      const result = await drill({ persistence: 'aof', fault: { type: 'truncate-aof' } });
      repairedAof(result);
      const { commands } = result;
      expect(commands).toContainEqual(expect.stringMatching(/^docker run --rm -i .*--entrypoint redis-check-aof \S+ --fix \S+\/appendonly\.aof\.manifest$/));
      expect(commands.filter((command) => !/^(docker|cp) /.test(command))).toEqual([]);
    } finally {
      process.env.PATH = saved;
      await rm(bin, { recursive: true, force: true });
    }
  });

  it('corrupt-rdb with two generations: the container killed and removed, sha256 catches the newest, the one before comes back in a new container', async () => {
    const { taken, fault, recovery, found, commands } = await drill({ fault: { type: 'corrupt-rdb' }, generations: 2 }, 300);
    expect(fault.summary).toMatch(/SIGKILL/);
    expect(commands).toContainEqual(expect.stringMatching(/^docker kill --signal KILL /));
    expect(recovery.ok).toBe(true);
    expect(recovery.integrity.map((step) => [step.check, step.ok])).toEqual([['sha256', false], ['sha256', true], ['redis-check-rdb', true]]);
    expect(recovery.usedBackup).toBe(taken[0]!.backup.path);
    sameState(found, taken[0]!.state);
  });

  it("a killed harness's Redis container carries the Docker engine's labels, and its leftover sweep removes it", async () => {
    const host = hostOf();
    const module = pathToFileURL(resolve(import.meta.dirname, '../src/parts/redis.ts')).href;
    const spec = { kind: 'redis', engine: 'docker', fault: { type: 'flushall' } };
    const code = [
      `const { redisPart, startRedis } = await import(${JSON.stringify(module)});`,
      `await startRedis(${JSON.stringify({ workDir: host.workDir, logDir: host.logDir, seed: 1, runId: 'redistest', engine: 'native', commands: {} })}, redisPart.schema.parse(${JSON.stringify(spec)}));`,
      "console.log('started');",
      'setInterval(() => {}, 60_000);',
    ].join('\n');
    const child = execa('node', ['--import', 'tsx', '--input-type=module', '-e', code], { reject: false });
    await new Promise<void>((started, failed) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('started') && started());
      void child.then((result) => failed(new Error(`the harness ended before its Redis started: ${result.stderr}`)));
    });
    child.kill('SIGKILL');
    await child;
    const [id] = await containersOf(host.workDir);
    const labels = JSON.parse((await execa('docker', ['inspect', '--format', '{{json .Config.Labels}}', id!])).stdout) as Record<string, string>;
    expect(labels).toMatchObject({ 'restore-drill': 'true', 'restore-drill.pid': String(child.pid), 'restore-drill.host': hostname() });
    expect((await removeContainerLeftovers(await dockerClient())).some((removed) => removed.startsWith(id!))).toBe(true);
    expect(await containersOf(host.workDir)).toEqual([]);
  });
});
