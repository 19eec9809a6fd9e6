/**
 * One throwaway redis-server for the Redis part: its configuration, its
 * start (daemonized, so `redis-server redis.conf` returns and lands in the
 * journal like any other command), readiness, stop, and the client that
 * seeds, reads and writes through one connection.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from '@redis/client';
import { runCommand, type CommandContext, type CommandOptions, type CommandResult } from '../exec/command.js';
import { sleep } from '../support/clock.js';

const REDIS_BINARIES = ['redis-server', 'redis-cli', 'redis-check-aof', 'redis-check-rdb'] as const;

/** Without a pidfile by then, the server died before it could write one (a port taken, a bad setting). */
const PIDFILE_TIMEOUT_MS = 10_000;
/** Loading a large RDB or AOF takes a while; a server that is still loading after this is reported as stuck. */
const READY_TIMEOUT_MS = 10 * 60_000;
const STOP_TIMEOUT_MS = 10_000;

function newClient(port: number) {
  // No reconnection: a server the drill killed must fail the writer's SETs, not queue them until it returns.
  return createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 2_000 } });
}
export type RedisClient = ReturnType<typeof newClient>;

export async function connect(port: number): Promise<RedisClient> {
  const client = newClient(port);
  // Failures surface as rejected commands; an unheard 'error' event would end the process.
  client.on('error', () => {});
  await client.connect();
  return client;
}

export async function withClient<T>(port: number, use: (client: RedisClient) => Promise<T>): Promise<T> {
  const client = await connect(port);
  try {
    return await use(client);
  } finally {
    client.destroy();
  }
}

/** One `name:value` line of INFO. */
export function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function missingBinaries(): string[] {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return REDIS_BINARIES.filter((bin) => !dirs.some((dir) => executable(join(dir, bin))));
}

/** A port nobody listens on now: the OS picks it; the server takes it a moment later. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Alive and not a zombie: a daemonized server killed in a container may linger unreaped. Where there is no /proc, signal 0 asks. */
function alive(pid: number): boolean {
  try {
    if (existsSync('/proc/self/stat')) return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (alive(pid)) {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

export class RedisServer {
  readonly conf: string;
  readonly dataDir: string;
  readonly pidFile: string;
  private pid: number | undefined;

  constructor(
    private readonly ctx: CommandContext,
    readonly port: number,
    workDir: string,
    private readonly logFile: string,
    private readonly aof: boolean,
    /** `redis-server 7.0.15`, recorded with each Redis tool's command. */
    readonly tool: string,
  ) {
    this.conf = join(workDir, 'redis.conf');
    this.dataDir = join(workDir, 'data');
    this.pidFile = join(workDir, 'redis.pid');
  }

  /** Starts it on its data folder as it is (empty, or what a recovery copied back) and waits until it has loaded. */
  async start(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    await mkdir(dirname(this.logFile), { recursive: true });
    const lines = [
      'bind 127.0.0.1',
      `port ${this.port}`,
      'daemonize yes',
      `pidfile ${JSON.stringify(this.pidFile)}`,
      `dir ${JSON.stringify(this.dataDir)}`,
      'dbfilename dump.rdb',
      `logfile ${JSON.stringify(this.logFile)}`,
      // Only the drill's BGSAVE snapshots: an automatic save would make a backup the drill did not take.
      'save ""',
      `appendonly ${this.aof ? 'yes' : 'no'}`,
      'appendfsync everysec',
      // The AOF stays one base and one incr file, as written: a rewrite racing the backup's copy would be another drill.
      'auto-aof-rewrite-percentage 0',
    ];
    await writeFile(this.conf, `${lines.join('\n')}\n`);
    await rm(this.pidFile, { force: true });
    await runCommand('redis-server', [this.conf], this.ctx, { tool: this.tool });
    await this.ready();
  }

  /** Known by its pid as soon as it wrote one, so that a server stuck loading is still stopped. */
  private async ready(): Promise<void> {
    const started = performance.now();
    for (;;) {
      // A pidfile caught half-written reads as no pid yet.
      if (this.pid === undefined && existsSync(this.pidFile)) this.pid = Number(readFileSync(this.pidFile, 'utf8').trim()) || undefined;
      if (this.pid !== undefined && !alive(this.pid)) throw new Error(`redis-server exited while starting: ${this.logTail()}`);
      if (this.pid === undefined && performance.now() - started > PIDFILE_TIMEOUT_MS) throw new Error(`redis-server did not start: ${this.logTail()}`);
      try {
        // PING answers -LOADING until the data is in; INFO says loading:0 once it is.
        const persistence = await withClient(this.port, async (client) => {
          await client.ping();
          return String(await client.info('persistence'));
        });
        if (this.pid !== undefined && infoField(persistence, 'loading') === '0') return;
      } catch {
        // Not listening yet, or still loading.
      }
      if (performance.now() - started > READY_TIMEOUT_MS) throw new Error(`redis-server did not finish loading within 10m: ${this.logTail()}`);
      await sleep(50);
    }
  }

  /** The runbook's `redis-cli ...`. redis-cli exits 0 on an error reply, so the reply is checked against what must come back. */
  async cli(args: string[], expect?: RegExp, options: CommandOptions = {}): Promise<CommandResult> {
    const result = await runCommand('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...args], this.ctx, { tool: this.tool, ...options });
    if (expect && !expect.test(result.stdout)) throw new Error(`redis-cli ${args.join(' ')} answered: ${result.stdout.trim() || result.stderr.trim()}`);
    return result;
  }

  /** SHUTDOWN NOSAVE (the drill's data lives in its backups), SIGKILL if it does not go. Safe when it is not running. */
  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid !== undefined && alive(pid)) {
      await this.cli(['SHUTDOWN', 'NOSAVE'], undefined, { allowFailure: true, timeoutMs: STOP_TIMEOUT_MS });
      if (!(await gone(pid, STOP_TIMEOUT_MS))) await this.kill();
    }
    this.pid = undefined;
  }

  /** The lost instance: SIGKILL, no shutdown of any kind. */
  async kill(): Promise<void> {
    const pid = this.pid;
    this.pid = undefined;
    if (pid === undefined || !alive(pid)) return;
    process.kill(pid, 'SIGKILL');
    await gone(pid, STOP_TIMEOUT_MS);
  }

  /** The last lines of its log: the server's own words for why it would not start. */
  logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-4).join('\n');
    } catch {
      return `(no log at ${this.logFile})`;
    }
  }
}
