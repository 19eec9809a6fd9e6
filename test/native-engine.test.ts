/** The native engine against the machine's real PostgreSQL binaries. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeEngine } from '../src/engines/native/engine.js';
import type { NativeInstance } from '../src/engines/native/instance.js';
import { removeLeftovers } from '../src/engines/native/leftovers.js';
import { findPgBinaries } from '../src/engines/shared/binaries.js';
import { SetupError } from '../src/errors.js';
import type { CommandRecord } from '../src/model/journal.js';
import { processesMentioning, tempDir } from './helpers.js';

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('PostgreSQL binaries', () => {
  it('are found on this machine, with their version', async () => {
    const binaries = await findPgBinaries();
    expect(binaries.major).toBeGreaterThanOrEqual(12);
    expect(existsSync(join(binaries.binDir, 'initdb'))).toBe(true);
  });
  it('an explicit folder without them is a setup error with guidance', async () => {
    const error = await findPgBinaries('/nonexistent/bin').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SetupError);
    expect((error as SetupError).message).toMatch(/--pg-bin=\/nonexistent\/bin does not hold .* \(missing: initdb/);
  });
});

describe('native engine', () => {
  const commands: CommandRecord[] = [];
  let engine: NativeEngine;
  let instance: NativeInstance;
  const logs = tempDir('engine-logs');

  beforeAll(async () => {
    // No cache: this engine runs initdb itself (a cached empty cluster is initdb's, copied; see seed-cache.test.ts).
    const cache = process.env.RESTORE_DRILL_CACHE;
    process.env.RESTORE_DRILL_CACHE = 'off';
    try {
      engine = await NativeEngine.create({ runId: 'enginetest', record: (c) => commands.push(c) });
      instance = await engine.startInstance('primary', logs);
    } finally {
      process.env.RESTORE_DRILL_CACHE = cache;
    }
  });
  afterAll(async () => {
    await instance?.destroy({ keepFiles: false });
    await engine?.dispose();
  });

  it('starts a throwaway cluster with checksums and fsync on, its socket in its own temp folder', async () => {
    const client = await instance.connect();
    const settings = await client.query<{ name: string; setting: string }>(
      `select name, setting from pg_settings where name in ('data_checksums', 'fsync', 'unix_socket_directories', 'port')`,
    );
    await client.end();
    const byName = Object.fromEntries(settings.rows.map((r) => [r.name, r.setting]));
    expect(byName).toMatchObject({ data_checksums: 'on', fsync: 'on', port: String(instance.connection.port) });
    expect(byName.unix_socket_directories).toBe(instance.socketDir);
    expect(instance.workDir.startsWith(engine.workRoot)).toBe(true);
  });

  it('runs the server as an unprivileged user when the harness is root', async () => {
    const pid = await instance.pid();
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    if (process.getuid?.() === 0) expect(uid).not.toBe(0);
    else expect(uid).toBe(process.getuid?.());
  });

  it('records every command it runs, with the password redacted', () => {
    expect(commands.map((c) => c.command).join('\n')).toMatch(/initdb .*--data-checksums/);
    for (const c of commands) expect(c.command).not.toContain(instance.connection.password);
  });

  it('refuses a wrong password: the cluster is not open to anyone on the machine', async () => {
    const { connectTo } = await import('../src/pg/client.js');
    await expect(connectTo({ ...instance.connection, password: 'wrong' }, 'postgres')).rejects.toThrow(/password authentication failed/);
    // The socket, which the cluster trusts, is in a folder of the server's user alone: whoever reaches it could read the data folder anyway.
    const socketFolder = statSync(instance.socketDir);
    expect(socketFolder.mode & 0o777).toBe(0o700);
    expect(socketFolder.uid).toBe(statSync(instance.dataDir).uid);
  });

  it('stops, keeps the server log in the run folder, removes its files and frees its port', async () => {
    const second = await engine.startInstance('second', logs);
    const { port } = second.connection;
    await second.destroy({ keepFiles: false });
    expect(existsSync(second.workDir)).toBe(false);
    expect(readFileSync(join(logs, 'postgresql-second.log'), 'utf8')).toMatch(/database system is ready to accept connections/);
    expect(await portIsFree(port)).toBe(true);
    expect(processesMentioning(second.workDir)).toEqual([]);
  });

  it('keeps the files when asked', async () => {
    const kept = await engine.startInstance('kept', logs);
    const result = await kept.destroy({ keepFiles: true });
    expect(result.keptAt).toBe(kept.workDir);
    expect(statSync(join(kept.workDir, 'data', 'PG_VERSION')).isFile()).toBe(true);
    expect(processesMentioning(kept.workDir)).toEqual([]);
    spawnSync('rm', ['-rf', kept.workDir]);
  });

  it("removes a crashed run's leftovers at the next start: its server stopped, its folder gone", async () => {
    const orphan = await engine.startInstance('orphan', logs);
    // Pretend the harness that made it was killed: its marker names a pid that is gone.
    const dead = spawnSync('true').pid!;
    writeFileSync(join(orphan.workDir, 'harness.json'), JSON.stringify({ pid: dead, runId: 'crashed' }));
    expect(processesMentioning(orphan.workDir).length).toBeGreaterThan(0);
    const removed = await removeLeftovers(engine.workRoot);
    expect(removed).toContain(orphan.workDir);
    expect(existsSync(orphan.workDir)).toBe(false);
    expect(processesMentioning(orphan.workDir)).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)('puts the data folder on a size-limited tmpfs when asked, and unmounts it', async () => {
    const small = await engine.startInstance('tmpfs', logs, { dataVolumeBytes: 64 * 1024 ** 2 });
    const mounts = () => readFileSync('/proc/self/mounts', 'utf8');
    expect(mounts()).toMatch(new RegExp(`^tmpfs ${small.dataDir} tmpfs .*size=65536k`, 'm'));
    const client = await small.connect();
    expect((await client.query('select 1 as one')).rows[0]).toEqual({ one: 1 });
    await client.end();
    await small.destroy({ keepFiles: false });
    expect(mounts()).not.toContain(small.dataDir);
    expect(existsSync(small.workDir)).toBe(false);
  });

  it('fails with the server log when the server cannot start', async () => {
    mkdirSync(logs, { recursive: true });
    const error = await engine.startInstance('broken', logs, { settings: { shared_buffers: "'not-a-size'" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SetupError);
    expect((error as SetupError).message).toMatch(/did not accept connections[\s\S]*shared_buffers/);
  });
});
