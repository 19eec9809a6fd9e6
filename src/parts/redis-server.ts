/**
 * One throwaway redis-server for the Redis part: its configuration, its
 * start, readiness, stop, and the client that seeds, reads and writes through
 * one connection. How it runs is a subclass: NativeRedisServer here (a daemon
 * on this host, so `redis-server redis.conf` returns and lands in the journal
 * like any other command), RedisContainer in redis-container.ts (Docker); the
 * part's steps are the same on both.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from '@redis/client';
import { runCommand, type CommandContext, type CommandOptions, type CommandResult } from '../exec/command.js';
import { sleep, waitWhile } from '../support/clock.js';
import { onPath } from '../support/path-search.js';
import { isAlive } from '../support/processes.js';

const REDIS_BINARIES = ['redis-server', 'redis-cli', 'redis-check-aof', 'redis-check-rdb'] as const;

/** Not known to run by then (natively: no pidfile), the server died before it could say so (a port taken, a bad setting). */
const START_TIMEOUT_MS = 10_000;
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

export function missingBinaries(): string[] {
  return REDIS_BINARIES.filter((bin) => !onPath(bin));
}

/** The Redis binaries the part runs: the server and its tools. */
export type RedisTool = (typeof REDIS_BINARIES)[number];

export abstract class RedisServer {
  readonly conf: string;
  readonly dataDir: string;
  /** `redis-server 7.0.15 (native)`, once started: recorded with each Redis command, and told in each backup's detail. */
  tool: string | undefined;
  /** `native`, or `container of <image>`. */
  protected abstract readonly where: string;

  constructor(
    protected readonly ctx: CommandContext,
    readonly port: number,
    protected readonly workDir: string,
    protected readonly logFile: string,
    private readonly aof: boolean,
  ) {
    this.conf = join(workDir, 'redis.conf');
    this.dataDir = join(workDir, 'data');
  }

  /** The configuration lines of how it runs: its address, daemonized or in the foreground. */
  protected abstract settings(): string[];
  /** Runs redis-server on its configuration; it may still be loading when this returns. */
  protected abstract launch(): Promise<void>;
  /** starting: launched, not yet known to run (no pidfile yet); gone: not running (never started, stopped, died). */
  protected abstract state(): Promise<'starting' | 'running' | 'gone'>;
  /** Waits for it to end by itself (after SHUTDOWN); false when it still runs after `timeoutMs`. */
  protected abstract ended(timeoutMs: number): Promise<boolean>;
  /** What is left of it once it ended, let go of (its container removed). */
  protected abstract release(): Promise<void>;
  /** The lost instance: SIGKILL, no shutdown of any kind. */
  abstract kill(): Promise<void>;
  /** `redis-cli -p <port> ...` beside the server. */
  protected abstract runCli(args: readonly string[], options: CommandOptions): Promise<CommandResult>;
  /** A Redis binary on the part's folders at their paths, whether or not the server runs (redis-check-rdb, redis-check-aof). */
  abstract run(file: RedisTool, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;

  /** What it made in the part's folder, removed at the end unless kept. */
  get made(): string[] {
    return [this.dataDir, this.conf];
  }

  /** Starts it on its data folder as it is (empty, or what a recovery copied back) and waits until it has loaded. */
  async start(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    await mkdir(dirname(this.logFile), { recursive: true });
    this.tool ??= `redis-server ${/v=(\S+)/.exec((await this.run('redis-server', ['--version'])).stdout)?.[1] ?? 'unknown'} (${this.where})`;
    const lines = [
      ...this.settings(),
      `port ${this.port}`,
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
    await this.launch();
    await this.ready();
  }

  private async ready(): Promise<void> {
    const started = performance.now();
    for (;;) {
      const state = await this.state();
      if (state === 'gone') throw new Error(`redis-server exited while starting: ${await this.logTail()}`);
      if (state === 'starting' && performance.now() - started > START_TIMEOUT_MS) throw new Error(`redis-server did not start: ${await this.logTail()}`);
      try {
        // PING answers -LOADING until the data is in; INFO says loading:0 once it is.
        const persistence = await withClient(this.port, async (client) => {
          await client.ping();
          return String(await client.info('persistence'));
        });
        if (state === 'running' && infoField(persistence, 'loading') === '0') return;
      } catch {
        // Not listening yet, or still loading.
      }
      if (performance.now() - started > READY_TIMEOUT_MS) throw new Error(`redis-server did not finish loading within 10m: ${await this.logTail()}`);
      await sleep(50);
    }
  }

  /** The runbook's `redis-cli ...`. redis-cli exits 0 on an error reply, so the reply is checked against what must come back. */
  async cli(args: string[], expect?: RegExp, options: CommandOptions = {}): Promise<CommandResult> {
    const result = await this.runCli(args, { tool: this.tool, ...options });
    if (expect && !expect.test(result.stdout)) throw new Error(`redis-cli ${args.join(' ')} answered: ${result.stdout.trim() || result.stderr.trim()}`);
    return result;
  }

  /** SHUTDOWN NOSAVE (the drill's data lives in its backups), SIGKILL if it does not go. Safe when it is not running. */
  async stop(): Promise<void> {
    if ((await this.state()) === 'running') {
      await this.cli(['SHUTDOWN', 'NOSAVE'], undefined, { allowFailure: true, timeoutMs: STOP_TIMEOUT_MS });
      if (!(await this.ended(STOP_TIMEOUT_MS))) await this.kill();
    }
    await this.release();
  }

  /** The last lines of its log: the server's own words for why it would not start. */
  async logTail(): Promise<string> {
    try {
      return (await readFile(this.logFile, 'utf8')).trimEnd().split('\n').slice(-4).join('\n');
    } catch {
      return `(no log at ${this.logFile})`;
    }
  }
}

/** redis-server daemonized on this host, known by its pidfile. */
export class NativeRedisServer extends RedisServer {
  protected readonly where = 'native';
  private readonly pidFile = join(this.workDir, 'redis.pid');
  /** Between its launch and its end: only then is the pidfile read (a stale one may name another process). */
  private launched = false;
  private pid: number | undefined;

  override get made(): string[] {
    return [...super.made, this.pidFile];
  }

  protected settings(): string[] {
    return ['bind 127.0.0.1', 'daemonize yes', `pidfile ${JSON.stringify(this.pidFile)}`];
  }

  protected async launch(): Promise<void> {
    await rm(this.pidFile, { force: true });
    this.launched = true;
    await runCommand('redis-server', [this.conf], this.ctx, { tool: this.tool });
  }

  /** Known by its pid as soon as it wrote one, so that a server stuck loading is still stopped. */
  protected async state(): Promise<'starting' | 'running' | 'gone'> {
    // A pidfile caught half-written reads as no pid yet.
    if (this.launched && this.pid === undefined && existsSync(this.pidFile)) this.pid = Number(readFileSync(this.pidFile, 'utf8').trim()) || undefined;
    if (this.pid !== undefined) return isAlive(this.pid) ? 'running' : 'gone';
    return this.launched ? 'starting' : 'gone';
  }

  protected ended(timeoutMs: number): Promise<boolean> {
    const pid = this.pid!;
    return waitWhile(() => isAlive(pid), timeoutMs, 20);
  }

  protected async release(): Promise<void> {
    this.launched = false;
    this.pid = undefined;
  }

  async kill(): Promise<void> {
    const pid = this.pid;
    await this.release();
    if (pid === undefined || !isAlive(pid)) return;
    process.kill(pid, 'SIGKILL');
    await waitWhile(() => isAlive(pid), STOP_TIMEOUT_MS, 20);
  }

  protected runCli(args: readonly string[], options: CommandOptions): Promise<CommandResult> {
    return runCommand('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...args], this.ctx, options);
  }

  run(file: RedisTool, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    return runCommand(file, args, this.ctx, { tool: this.tool, ...options });
  }
}
