/**
 * The embedded default engine: throwaway clusters started from the machine's
 * own PostgreSQL binaries, each in its own temp folder (data, socket, backups,
 * log), with data checksums on and fsync left on so crash faults are honest.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { sleep } from '../clock.js';
import { errorMessage, UnsupportedError } from '../errors.js';
import { runCommand, settle, shellQuote, tail, type CommandContext, type CommandOptions } from '../exec/command.js';
import { registerCleanup } from '../lifecycle.js';
import { archiveSettings } from '../backup/basebackup.js';
import { SUPPORTED, unsupported, type Capabilities, type Engine, type InstanceOptions } from './engine.js';
import { connectTo, serverInfoOf, type ConnectionInfo, type Instance, type PgTool, type ServerInfo } from './instance.js';
import { handOver, unprivilegedUser, type RunAs } from './os-user.js';
import { waitForPromotion, waitForSelect1 } from './readiness.js';
import { isAlive, makeWorkDir, removeOrphanedWorkDirs } from './workdir.js';
import { findPgBinaries, type PgBinaries } from './pg-binaries.js';

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
 * killed, its tmpfs unmounted and its temp folders deleted, once the harness
 * process that made them is gone. Returns the folders removed.
 */
export function removeLeftovers(workRoot = tmpdir()): Promise<string[]> {
  return removeOrphanedWorkDirs(workRoot, async (dir) => {
    const pid = await postmasterPid(join(dir, 'data'));
    if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
    await unmountAll(dir, { inside: true });
  });
}

function pgbackrestAvailable(): boolean {
  try {
    execFileSync('pgbackrest', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether any live (non-zombie) process is left in a process group; the postmaster leads its own. */
async function groupAlive(pgid: number): Promise<boolean> {
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') return true;
  }
  return false;
}

/** The mount points the kernel knows of, from its mount table. */
async function mountPoints(): Promise<string[]> {
  const table = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  return table.split('\n').map((line) => line.split(' ')[1] ?? '').filter(Boolean);
}

/** Unmounts a folder and every filesystem mounted inside it (a tmpfs data folder, a size-limited backup folder). */
async function unmountAll(dir: string, { inside }: { inside: boolean }): Promise<void> {
  const mounts = (await mountPoints())
    .filter((path) => (inside ? path.startsWith(`${dir}/`) : path === dir))
    .sort((a, b) => b.length - a.length);
  for (const path of mounts) await runCommand('umount', ['--lazy', path], {}, { allowFailure: true });
}

export class NativeEngine implements Engine {
  readonly kind = 'native' as const;
  private templateDir?: Promise<string>;
  private readonly password = randomBytes(16).toString('hex');
  private readonly unregister: () => void;
  private readonly pgbackrestInstalled = pgbackrestAvailable();

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

  get clientBinDir(): string {
    return this.binaries.binDir;
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, binaries: this.binaries.binDir, binariesFoundBy: this.binaries.source, version: this.binaries.versionText };
  }

  capabilities(): Capabilities {
    return {
      kill: SUPPORTED,
      sizeLimitedVolume: this.runAs
        ? SUPPORTED
        : unsupported('a size-limited data folder is a tmpfs mount, and mounting needs root; run the harness as root or use --engine docker'),
      standby: SUPPORTED,
      pgbackrest: this.pgbackrestInstalled
        ? SUPPORTED
        : unsupported('pgbackrest is not installed on this machine (Debian/Ubuntu: apt-get install pgbackrest)'),
    };
  }

  get workRoot(): string {
    return this.options.workRoot ?? tmpdir();
  }

  tool(name: string): string {
    return join(this.binaries.binDir, name);
  }

  makeWorkDir(label: string): Promise<string> {
    return makeWorkDir(this.workRoot, this.options.runId, label, this.runAs);
  }

  /** A new folder on a tmpfs of `bytes`, owned by the server's user. */
  async mountTmpfs(path: string, bytes: number): Promise<void> {
    await mkdir(path, { mode: 0o700 });
    const owner = this.runAs ? `,uid=${this.runAs.uid},gid=${this.runAs.gid}` : '';
    // Mounting is the one step that keeps root's rights.
    await runCommand('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700${owner}`, 'tmpfs', path], { ...this.ctx, runAs: undefined });
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

  async startInstance(name: string, logDir: string, options: InstanceOptions = {}): Promise<NativeInstance> {
    const capabilities = this.capabilities();
    if (options.dataVolumeBytes && !capabilities.sizeLimitedVolume.supported) {
      throw new UnsupportedError(capabilities.sizeLimitedVolume.why);
    }
    const template = await this.template();
    const dir = await this.makeWorkDir(name);
    const instance = new NativeInstance(this, name, dir, logDir, capabilities, {
      host: '127.0.0.1',
      port: 0,
      user: SUPERUSER,
      password: this.password,
    });
    try {
      if (options.prepareData) {
        await mkdir(instance.dataDir, { mode: 0o700 });
        await handOver(instance.dataDir, this.runAs);
        await options.prepareData(instance.dataDir);
      } else if (options.dataVolumeBytes) {
        await this.mountTmpfs(instance.dataDir, options.dataVolumeBytes);
        await runCommand('cp', ['-a', `${join(template, 'data')}/.`, instance.dataDir], this.ctx);
      } else {
        await runCommand('cp', ['-a', join(template, 'data'), instance.dataDir], this.ctx);
      }
      for (const sub of ['sock', 'backups', 'archive']) {
        await mkdir(join(dir, sub), { mode: 0o700 });
        await handOver(join(dir, sub), this.runAs);
      }
      await instance.configure({
        ...(this.timescaleLibrary ? { shared_preload_libraries: "'timescaledb'", 'timescaledb.telemetry_level': 'off' } : {}),
        ...(options.walArchive ? archiveSettings(instance.archiveDir, options.walArchive.timeoutMs, await options.walArchive.command?.(instance)) : {}),
        ...options.settings,
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
  readonly archiveDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  private readonly unregister: () => void;
  private readonly versions = new Map<string, string>();

  constructor(
    private readonly engine: NativeEngine,
    readonly name: string,
    readonly workDir: string,
    private readonly logDir: string,
    readonly capabilities: Capabilities,
    readonly connection: ConnectionInfo,
  ) {
    this.dataDir = join(workDir, 'data');
    this.backupDir = join(workDir, 'backups');
    this.archiveDir = join(workDir, 'archive');
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

  /**
   * The harness starts the postmaster as its own child, in its own process
   * group, rather than through pg_ctl: pg_ctl leaves it orphaned, and where
   * PID 1 reaps no orphans (many containers, some sandboxes) a killed
   * postmaster stays a zombie whose pid blocks the restart that crash
   * recovery needs. As our child it is reaped. Stops still use pg_ctl.
   */
  async start(): Promise<void> {
    const startedAt = new Date().toISOString();
    const began = performance.now();
    const log = await open(this.logFile, 'a');
    const args = ['-D', this.dataDir];
    const runAs = this.engine.ctx.runAs;
    const child = spawn(this.engine.tool('postgres'), args, {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    await log.close();
    child.unref();
    let exit: string | undefined;
    child.on('error', (error) => (exit = `could not start postgres: ${error.message}`));
    child.on('exit', (code, signal) => (exit = `the postmaster exited (${signal ?? `code ${code}`})`));
    let failure: unknown;
    try {
      await this.waitReady(() => exit);
    } catch (error) {
      failure = error;
    }
    settle(
      {
        escapedCommand: `${[this.engine.tool('postgres'), ...args].map(shellQuote).join(' ')} (background, pid ${child.pid ?? '?'}, ready by probe)`,
        startedAt,
        durationMs: performance.now() - began,
        exitCode: failure ? 1 : 0,
        timedOut: false,
        stdout: '',
        stderr: failure ? errorMessage(failure) : '',
      },
      this.engine.ctx,
      { allowFailure: true },
    );
    if (failure) throw failure;
  }

  waitPromoted(timeoutMs: number): Promise<void> {
    return waitForPromotion(() => this.connection, {
      name: this.name,
      timeoutMs,
      gone: async () => ((await this.pid()) ? undefined : 'the postmaster is not running'),
      logTail: () => this.logTail(),
    });
  }

  runHost(file: string, args: readonly string[], options: CommandOptions = {}) {
    return runCommand(file, args, this.engine.ctx, options);
  }

  exec(file: string, args: readonly string[], options: CommandOptions = {}) {
    return this.runHost(file, args, { ...options, env: { ...this.toolEnv(), ...options.env } });
  }

  async canExec(): Promise<boolean> {
    return true;
  }

  async running(): Promise<boolean> {
    return (await this.pid()) !== undefined;
  }

  /** initdb's pg_hba.conf already lets loopback connections replicate. */
  async replicationSource(): Promise<{ host: string; port: number }> {
    return { host: this.connection.host, port: this.connection.port };
  }

  async sizeLimitedFolder(name: string, bytes: number): Promise<{ path: string; release: () => Promise<void> }> {
    const { sizeLimitedVolume } = this.capabilities;
    if (!sizeLimitedVolume.supported) throw new UnsupportedError(sizeLimitedVolume.why);
    const path = join(this.workDir, name);
    await this.engine.mountTmpfs(path, bytes);
    return {
      path,
      release: async () => {
        await unmountAll(path, { inside: false });
        await rm(path, { recursive: true, force: true });
      },
    };
  }

  async lose(): Promise<void> {
    await this.kill();
    // Retries: a process of the dead server may still be closing files in there.
    await rm(this.dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }

  private waitReady(exited: () => string | undefined): Promise<void> {
    return waitForSelect1(() => this.connection, {
      name: this.name,
      timeoutMs: READY_TIMEOUT_MS,
      gone: async () => exited(),
      logTail: () => this.logTail(),
    });
  }

  async logTail(lines = 30): Promise<string> {
    try {
      return tail(await readFile(this.logFile, 'utf8'), lines);
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

  async kill(): Promise<void> {
    const pid = await this.pid();
    if (!pid) throw new Error(`instance "${this.name}" has no running postmaster to kill`);
    process.kill(pid, 'SIGKILL');
    // The postmaster is gone at once; wait until its whole process group (backends,
    // archiver, an archive_command still copying) has noticed, so the next start,
    // or the deletion of the data folder, finds nothing still writing.
    const deadline = performance.now() + 10_000;
    while (performance.now() < deadline && (await groupAlive(pid))) await sleep(50);
  }

  async pid(): Promise<number | undefined> {
    const pid = await postmasterPid(this.dataDir);
    return pid && isAlive(pid) ? pid : undefined;
  }

  connect(database = 'postgres'): Promise<pg.Client> {
    return connectTo(this.connection, database);
  }

  serverInfo(): Promise<ServerInfo> {
    return serverInfoOf(this.connection);
  }

  toolEnv(): Record<string, string> {
    return {
      PGHOST: this.connection.host,
      PGPORT: String(this.connection.port),
      PGUSER: this.connection.user,
      PGPASSWORD: this.connection.password,
    };
  }

  async runTool(tool: PgTool, args: readonly string[], options: CommandOptions = {}) {
    return runCommand(this.engine.tool(tool), args, this.engine.ctx, {
      ...options,
      tool: await this.toolVersion(tool),
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
    await unmountAll(this.workDir, { inside: true });
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
