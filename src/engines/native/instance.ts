/**
 * One throwaway cluster of the native engine, in its own temp folder: data,
 * socket, backups, WAL archive and server log side by side.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connectTo, serverInfoOf, withClient, type Client, type ConnectionInfo, type ServerInfo } from '../../pg/client.js';
import { confLines, type Settings } from '../../pg/conf.js';
import type { PgTool } from '../../pg/versions.js';
import { SetupError } from '../../errors.js';
import { runCommand, shellQuote, tail, type CommandOptions, type CommandResult } from '../../exec/command.js';
import { registerCleanup } from '../../support/cleanup.js';
import { freePort } from '../../support/ports.js';
import { waitWhile } from '../../support/clock.js';
import { waitForPromotion, waitForSelect1 } from '../shared/readiness.js';
import { recorded } from '../shared/recorded.js';
import { keepServerLog } from '../shared/server-log.js';
import { ToolVersions } from '../shared/tool-versions.js';
import { isAlive } from '../../support/processes.js';
import { markKept, removeWorkDir } from '../shared/workdir.js';
import type { Capabilities, Instance, ServerSide, ServerToolOptions, SizeLimitedFolder } from '../types.js';
import type { CommandContext } from '../../exec/command.js';
import { unmountAll } from '../shared/mounts.js';
import { groupAlive, postmasterPid } from './procfs.js';

const READY_TIMEOUT_MS = 30_000;
/** sockaddr_un's sun_path on Linux, less its terminating NUL. */
const MAX_SOCKET_PATH = 107;

/** What an instance needs of the engine that started it. */
export interface NativeHost {
  readonly ctx: CommandContext;
  /** The path of a binary in the engine's PostgreSQL bin folder. */
  tool(name: string): string;
  capabilities(): Capabilities;
  mountTmpfs(path: string, bytes: number): Promise<void>;
}

export class NativeInstance implements Instance {
  readonly kind = 'native' as const;
  readonly dataDir: string;
  readonly backupDir: string;
  readonly archiveDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly sizeLimitedFolder?: (name: string, bytes: number) => Promise<SizeLimitedFolder>;
  private readonly unregister: () => void;
  private readonly versions: ToolVersions;

  constructor(
    private readonly engine: NativeHost,
    readonly name: string,
    readonly workDir: string,
    private readonly logDir: string,
    readonly connection: ConnectionInfo,
  ) {
    this.dataDir = join(workDir, 'data');
    this.backupDir = join(workDir, 'backups');
    this.archiveDir = join(workDir, 'archive');
    this.socketDir = join(workDir, 'sock');
    this.logFile = join(workDir, 'server.log');
    this.versions = new ToolVersions(async (tool) => {
      const result = await runCommand(this.engine.tool(tool), ['--version'], {});
      return `${this.engine.tool(tool)}: ${result.stdout.trim()}`;
    });
    if (engine.capabilities().sizeLimitedFolder.supported) this.sizeLimitedFolder = (folder, bytes) => this.mountFolder(folder, bytes);
    this.unregister = registerCleanup(async () => {
      await this.destroy({ keepFiles: false });
    });
  }

  private get ctx() {
    return this.engine.ctx;
  }

  /** Appends settings to postgresql.conf; a free port is chosen on the first call. */
  async configure(settings: Settings): Promise<void> {
    if (!this.connection.port) this.connection.port = await freePort();
    const socket = join(this.socketDir, `.s.PGSQL.${this.connection.port}`);
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
      throw new SetupError(
        'SERVER_START_FAILED',
        `the server's socket path ${socket} is ${Buffer.byteLength(socket)} bytes, over the ${MAX_SOCKET_PATH} a Unix socket allows; set TMPDIR to a shorter folder (the instances' folders are made there)`,
      );
    }
    const lines = confLines({
      listen_addresses: '127.0.0.1',
      port: this.connection.port,
      unix_socket_directories: this.socketDir,
      fsync: 'on',
      max_connections: 40,
      log_line_prefix: '%m [%p] %q%u@%d ',
      ...settings,
    });
    await appendFile(join(this.dataDir, 'postgresql.conf'), `\n# restore-drill\n${lines}\n`);
  }

  /**
   * The harness starts the postmaster as its own child, in its own process
   * group, rather than through pg_ctl: pg_ctl leaves it orphaned, and where
   * PID 1 reaps no orphans (many containers, some sandboxes) a killed
   * postmaster stays a zombie whose pid blocks the restart that crash
   * recovery needs. As our child it is reaped. Stops still use pg_ctl.
   *
   * Ready is a `select 1` over TCP with the password. `firstStatement`, when
   * given, runs before it over the socket, once the server answers there (a
   * copied cluster trusts its socket, and its superuser gets this run's
   * password that way).
   */
  async start(firstStatement?: string): Promise<void> {
    const log = await open(this.logFile, 'a');
    const args = ['-D', this.dataDir];
    const runAs = this.ctx.runAs;
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
    const probe = { name: this.name, timeoutMs: READY_TIMEOUT_MS, gone: async () => exit, logTail: () => this.logTail() };
    const overSocket = () => ({ ...this.connection, host: this.socketDir });
    await recorded(
      this.ctx,
      () =>
        `${[this.engine.tool('postgres'), ...args].map(shellQuote).join(' ')} (background, pid ${child.pid ?? '?'}, ready by probe` +
        `${firstStatement ? "; the superuser given this run's password over its socket first" : ''})`,
      async () => {
        if (firstStatement) {
          await waitForSelect1(overSocket, probe);
          await withClient(() => connectTo(overSocket(), 'postgres'), (client) => client.query(firstStatement));
        }
        await waitForSelect1(() => this.connection, probe);
      },
    );
  }

  waitPromoted(timeoutMs: number): Promise<void> {
    return waitForPromotion(() => this.connection, {
      name: this.name,
      timeoutMs,
      gone: async () => ((await this.pid()) ? undefined : 'the postmaster is not running'),
      logTail: () => this.logTail(),
    });
  }

  runOnHost(file: string, args: readonly string[], options: CommandOptions = {}) {
    return runCommand(file, args, this.ctx, options);
  }

  runBesideServer(file: string, args: readonly string[], options: CommandOptions = {}) {
    return this.runOnHost(file, args, { ...options, env: { ...this.toolEnv(), ...options.env } });
  }

  /** The server runs on the host: its tools run there, as its user, whatever became of it; every host folder is reachable. */
  runServerTool(file: string, args: readonly string[], { folders: _folders, ...options }: ServerToolOptions = {}) {
    return this.runOnHost(file, args, options);
  }

  get serverSide(): ServerSide {
    return { dataDir: this.dataDir, socketDir: this.socketDir, port: this.connection.port };
  }

  async canRunBesideServer(): Promise<boolean> {
    return true;
  }

  async running(): Promise<boolean> {
    return (await this.pid()) !== undefined;
  }

  /** initdb's pg_hba.conf already lets loopback connections replicate. */
  readonly replicationSource = async (): Promise<{ host: string; port: number }> => ({ host: this.connection.host, port: this.connection.port });

  readonly kill = async (): Promise<void> => {
    const pid = await this.pid();
    if (!pid) return; // Already dead: a kill finds nothing to do.
    process.kill(pid, 'SIGKILL');
    // The postmaster is gone at once; wait until its whole process group (backends,
    // archiver, an archive_command still copying) has noticed, so the next start,
    // or the deletion of the data folder, finds nothing still writing.
    await waitWhile(() => groupAlive(pid), 10_000, 50);
  };

  private async mountFolder(folder: string, bytes: number): Promise<SizeLimitedFolder> {
    const path = join(this.workDir, folder);
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

  async logTail(lines = 30): Promise<string> {
    try {
      return tail(await readFile(this.logFile, 'utf8'), lines);
    } catch {
      return '(no log)';
    }
  }

  async stop(): Promise<void> {
    const result = await this.pgCtlStop('fast');
    if (result.failed) await this.pgCtlStop('immediate');
  }

  private pgCtlStop(mode: 'fast' | 'immediate'): Promise<CommandResult> {
    return runCommand(this.engine.tool('pg_ctl'), ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '60'], this.ctx, { allowFailure: true });
  }

  async pid(): Promise<number | undefined> {
    const pid = await postmasterPid(this.dataDir);
    return pid && isAlive(pid) ? pid : undefined;
  }

  connect(database = 'postgres'): Promise<Client> {
    return connectTo(this.connection, database);
  }

  serverInfo(): Promise<ServerInfo> {
    return serverInfoOf(this.connection);
  }

  private toolEnv(): Record<string, string> {
    return {
      PGHOST: this.connection.host,
      PGPORT: String(this.connection.port),
      PGUSER: this.connection.user,
      PGPASSWORD: this.connection.password,
    };
  }

  async runPgTool(tool: PgTool, args: readonly string[], options: CommandOptions = {}) {
    return runCommand(this.engine.tool(tool), args, this.ctx, {
      ...options,
      tool: await this.toolVersion(tool),
      env: { ...this.toolEnv(), ...options.env },
    });
  }

  toolVersion(tool: PgTool): Promise<string> {
    return this.versions.of(tool);
  }

  async destroy({ keepFiles }: { keepFiles: boolean }): Promise<{ keptAt?: string }> {
    this.unregister();
    if (existsSync(this.dataDir)) {
      // A cluster about to be removed needs no shutdown checkpoint: its pages are never read again. A kept one stops cleanly.
      if (await this.pid()) {
        if (keepFiles) await this.stop();
        else await this.pgCtlStop('immediate');
      }
      const left = await this.pid();
      if (left) process.kill(left, 'SIGKILL');
    }
    await unmountAll(this.workDir, { inside: true });
    // An instance that never started has no log to keep.
    await keepServerLog(this.logDir, this.name, { file: this.logFile });
    if (keepFiles) {
      await markKept(this.workDir);
      return { keptAt: this.workDir };
    }
    await removeWorkDir(this.workDir);
    return {};
  }
}
