/**
 * The embedded default engine: throwaway clusters started from the machine's
 * own PostgreSQL binaries, each in its own temp folder (data, socket, backups,
 * log), with data checksums on and fsync left on so crash faults are honest.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { sleep } from '../clock.js';
import { errorMessage, SetupError } from '../errors.js';
import { runCommand, tail, type CommandContext, type CommandOptions } from '../exec/command.js';
import { registerCleanup } from '../lifecycle.js';
import { connectTo, readServerInfo, type ConnectionInfo, type Instance, type PgTool, type ServerInfo } from './instance.js';
import { handOver, unprivilegedUser, type RunAs } from './os-user.js';
import { findPgBinaries, type PgBinaries } from './pg-binaries.js';

/** Every folder the harness creates starts with this, so leftovers of a crashed run can be found. */
export const WORK_PREFIX = 'restore-drill-';
const MARKER = 'harness.json';
const READY_TIMEOUT_MS = 30_000;
const SUPERUSER = 'postgres';

export interface NativeEngineOptions {
  runId: string;
  ctx: CommandContext;
  binDir?: string;
  /** Parent of the temp folders (default: the OS temp folder). */
  workRoot?: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const first = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0];
    const pid = Number(first);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes what a crashed or killed earlier run left behind: its servers are
 * stopped and its temp folders deleted when the harness process that made them
 * is gone. Returns the folders removed.
 */
export async function removeLeftovers(workRoot = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(workRoot);
  } catch {
    return removed;
  }
  for (const name of names.filter((n) => n.startsWith(WORK_PREFIX))) {
    const dir = join(workRoot, name);
    let owner: number | undefined;
    try {
      owner = (JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as { pid: number }).pid;
    } catch {
      continue; // Not ours, or still being created.
    }
    if (owner === undefined || isAlive(owner)) continue;
    const pid = await postmasterPid(join(dir, 'data'));
    if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

export class NativeEngine {
  private templateDir?: Promise<string>;
  private readonly password = randomBytes(16).toString('hex');
  private readonly unregister: () => void;

  private constructor(
    readonly binaries: PgBinaries,
    private readonly runAs: RunAs | undefined,
    private readonly options: NativeEngineOptions,
    readonly timescaleLibrary: boolean,
  ) {
    options.ctx.secrets = [...(options.ctx.secrets ?? []), this.password];
    options.ctx.runAs = runAs;
    this.unregister = registerCleanup(() => this.dispose());
  }

  static async create(options: NativeEngineOptions): Promise<NativeEngine> {
    const binaries = await findPgBinaries(options.binDir);
    const runAs = unprivilegedUser();
    await removeLeftovers(options.workRoot);
    const timescale = await hasTimescaleLibrary(binaries.binDir);
    return new NativeEngine(binaries, runAs, options, timescale);
  }

  get workRoot(): string {
    return this.options.workRoot ?? tmpdir();
  }

  tool(name: string): string {
    return join(this.binaries.binDir, name);
  }

  /** A new temp folder owned by the server's user, marked with this harness's pid. */
  async makeWorkDir(label: string): Promise<string> {
    const dir = await mkdtemp(join(this.workRoot, `${WORK_PREFIX}${this.options.runId}-${label}-`));
    await writeFile(join(dir, MARKER), JSON.stringify({ pid: process.pid, runId: this.options.runId }));
    await handOver(dir, this.runAs);
    return dir;
  }

  /** initdb once per run; each instance copies the result (≈0.3 s instead of ≈1 s). */
  private template(): Promise<string> {
    this.templateDir ??= (async () => {
      const dir = await this.makeWorkDir('template');
      const pwfile = join(dir, 'pwfile');
      await writeFile(pwfile, this.password, { mode: 0o600 });
      await handOver(pwfile, this.runAs);
      await runCommand(
        this.tool('initdb'),
        [
          '-D', join(dir, 'data'),
          '--data-checksums',
          `--username=${SUPERUSER}`,
          `--pwfile=${pwfile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
          '--no-instructions',
        ],
        this.options.ctx,
        { timeoutMs: 120_000 },
      );
      await rm(pwfile);
      return dir;
    })();
    return this.templateDir;
  }

  async startInstance(name: string, logDir: string, settings: Record<string, string> = {}): Promise<NativeInstance> {
    const template = await this.template();
    const dir = await this.makeWorkDir(name);
    const instance = new NativeInstance(this, name, dir, logDir, {
      host: '127.0.0.1',
      port: 0,
      user: SUPERUSER,
      password: this.password,
    });
    try {
      await runCommand('cp', ['-a', join(template, 'data'), instance.dataDir], this.ctx);
      for (const sub of ['sock', 'backups']) {
        await mkdir(join(dir, sub), { mode: 0o700 });
        await handOver(join(dir, sub), this.runAs);
      }
      await instance.configure({
        ...(this.timescaleLibrary ? { shared_preload_libraries: "'timescaledb'", 'timescaledb.telemetry_level': 'off' } : {}),
        ...settings,
      });
      await instance.start();
    } catch (error) {
      await instance.destroy({ keepFiles: true });
      throw error;
    }
    return instance;
  }

  get ctx(): CommandContext {
    return this.options.ctx;
  }

  async dispose(): Promise<void> {
    this.unregister();
    if (this.templateDir) {
      const dir = await this.templateDir.catch(() => undefined);
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Whether the server binaries have TimescaleDB's library beside them (it must be preloaded). */
export async function hasTimescaleLibrary(binDir: string): Promise<boolean> {
  let libDir = join(binDir, '..', 'lib');
  try {
    libDir = execFileSync(join(binDir, 'pg_config'), ['--pkglibdir'], { encoding: 'utf8' }).trim();
  } catch {
    // Older layouts ship pg_config elsewhere; ../lib is the usual neighbour.
  }
  try {
    return (await readdir(libDir)).some((f) => /^timescaledb(-[\d.]+)?\.so$/.test(f));
  } catch {
    return false;
  }
}

export class NativeInstance implements Instance {
  readonly kind = 'native' as const;
  readonly dataDir: string;
  readonly backupDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  private readonly unregister: () => void;
  private readonly versions = new Map<string, string>();

  constructor(
    private readonly engine: NativeEngine,
    readonly name: string,
    readonly workDir: string,
    private readonly logDir: string,
    readonly connection: ConnectionInfo,
  ) {
    this.dataDir = join(workDir, 'data');
    this.backupDir = join(workDir, 'backups');
    this.socketDir = join(workDir, 'sock');
    this.logFile = join(workDir, 'server.log');
    this.unregister = registerCleanup(async () => {
      await this.destroy({ keepFiles: false });
    });
  }

  /** Appends settings to postgresql.conf; a free port is chosen on every call without one. */
  async configure(settings: Record<string, string>): Promise<void> {
    if (!this.connection.port) this.connection.port = await freePort();
    const lines = {
      listen_addresses: "'127.0.0.1'",
      port: String(this.connection.port),
      unix_socket_directories: `'${this.socketDir}'`,
      fsync: 'on',
      max_connections: '40',
      log_line_prefix: "'%m [%p] %q%u@%d '",
      ...settings,
    };
    const text = Object.entries(lines)
      .map(([key, value]) => `${key} = ${value}`)
      .join('\n');
    await appendFile(join(this.dataDir, 'postgresql.conf'), `\n# restore-drill\n${text}\n`);
  }

  async start(): Promise<void> {
    // pg_ctl -w waits on the postmaster's own status in its pid file and notices
    // at once when it dies during start-up; the select 1 probe then confirms.
    const started = await runCommand(
      this.engine.tool('pg_ctl'),
      ['start', '-D', this.dataDir, '-l', this.logFile, '-w', '-t', String(READY_TIMEOUT_MS / 1000)],
      this.engine.ctx,
      { detached: true, allowFailure: true },
    );
    await this.waitReady(started.failed ? started.stderr.trim() || `pg_ctl exited with ${started.exitCode}` : undefined);
  }

  /** Readiness by probe: a real `select 1`, with a deadline; never by reading the log. */
  private async waitReady(startFailure?: string): Promise<void> {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    let lastError = startFailure ?? 'no answer yet';
    while (!startFailure && performance.now() < deadline) {
      const pid = await postmasterPid(this.dataDir);
      if (!pid || !isAlive(pid)) {
        lastError = 'the postmaster is not running';
        break;
      }
      try {
        const client = await connectTo(this.connection, 'postgres');
        await client.query('select 1');
        await client.end();
        return;
      } catch (error) {
        lastError = errorMessage(error);
      }
      await sleep(100);
    }
    throw new SetupError(
      'SERVER_START_FAILED',
      `PostgreSQL instance "${this.name}" did not accept connections on port ${this.connection.port} ` +
        `(last probe: ${lastError}). Server log (${this.logFile}):\n${await this.logTail()}`,
    );
  }

  async logTail(): Promise<string> {
    try {
      return tail(await readFile(this.logFile, 'utf8'), 30);
    } catch {
      return '(no log)';
    }
  }

  async stop(): Promise<void> {
    const result = await runCommand(
      this.engine.tool('pg_ctl'),
      ['stop', '-D', this.dataDir, '-m', 'fast', '-w', '-t', '60'],
      this.engine.ctx,
      { allowFailure: true },
    );
    if (result.failed) {
      await runCommand(this.engine.tool('pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'immediate', '-w'], this.engine.ctx, {
        allowFailure: true,
      });
    }
  }

  async pid(): Promise<number | undefined> {
    const pid = await postmasterPid(this.dataDir);
    return pid && isAlive(pid) ? pid : undefined;
  }

  connect(database = 'postgres'): Promise<pg.Client> {
    return connectTo(this.connection, database);
  }

  async serverInfo(): Promise<ServerInfo> {
    const client = await this.connect();
    try {
      return await readServerInfo(client);
    } finally {
      await client.end();
    }
  }

  toolEnv(): Record<string, string> {
    return {
      PGHOST: this.connection.host,
      PGPORT: String(this.connection.port),
      PGUSER: this.connection.user,
      PGPASSWORD: this.connection.password,
    };
  }

  runTool(tool: PgTool, args: readonly string[], options: CommandOptions = {}) {
    return runCommand(this.engine.tool(tool), args, this.engine.ctx, {
      ...options,
      env: { ...this.toolEnv(), ...options.env },
    });
  }

  async toolVersion(tool: PgTool): Promise<string> {
    let version = this.versions.get(tool);
    if (!version) {
      const result = await runCommand(this.engine.tool(tool), ['--version'], {});
      version = `${this.engine.tool(tool)}: ${result.stdout.trim()}`;
      this.versions.set(tool, version);
    }
    return version;
  }

  async destroy({ keepFiles }: { keepFiles: boolean }): Promise<{ keptAt?: string }> {
    this.unregister();
    if (existsSync(this.dataDir)) {
      if (await this.pid()) await this.stop();
      const left = await this.pid();
      if (left) process.kill(left, 'SIGKILL');
    }
    try {
      await mkdir(this.logDir, { recursive: true });
      await copyFile(this.logFile, join(this.logDir, `postgresql-${this.name}.log`));
    } catch {
      // An instance that never started has no log to keep.
    }
    if (keepFiles) return { keptAt: this.workDir };
    await rm(this.workDir, { recursive: true, force: true });
    return {};
  }
}
