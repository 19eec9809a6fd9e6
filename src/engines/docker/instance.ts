/** One PostgreSQL container of the Docker engine, with its host folders (backups, WAL archive, data, a size-limited folder). */
import { existsSync } from 'node:fs';
import { chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StartedTestContainer } from 'testcontainers';
import { errorMessage, InternalError, SetupError } from '../../errors.js';
import { runCommand, settle, shellQuote, tail, timeoutOf, type CommandContext, type CommandOptions, type CommandResult } from '../../exec/command.js';
import { connectTo, serverInfoOf, type Client, type ConnectionInfo, type ServerInfo } from '../../pg/client.js';
import type { PgTool } from '../../pg/versions.js';
import { registerCleanup } from '../../support/cleanup.js';
import { waitWhile } from '../../support/clock.js';
import { resizeTmpfs, unmountAll } from '../shared/mounts.js';
import { waitForPromotion, waitForSelect1, type ProbeOptions } from '../shared/readiness.js';
import { keepServerLog } from '../shared/server-log.js';
import { ToolVersions } from '../shared/tool-versions.js';
import { markKept, removeWorkDir } from '../shared/workdir.js';
import type { Capabilities, Instance, ServerSide, ServerToolOptions, SizeLimitedFolder } from '../types.js';
import type { PgBinaries } from '../shared/binaries.js';
import type { HelperRun, ImageFacts } from './helper.js';
import { labelsFor } from './leftovers.js';
import type { NetworkMode } from './network.js';
import { containerLog, type ContainerRuntimeClient } from './runtime.js';

/** The port the server listens on inside a container of its own network (Docker publishes it); on the host's network it takes a free one. */
export const PG_PORT = 5432;
export const PGDATA = '/var/lib/postgresql/data';
/** Where the images (the official ones and ours) put the server's Unix socket. */
export const SOCKET_DIR = '/var/run/postgresql';
/** The size of the tmpfs for size-limited folders while none is asked for: nothing is written there meanwhile. */
export const LIMITED_IDLE_BYTES = 64 * 1024;
const READY_TIMEOUT_MS = 60_000;
/**
 * Tools that read the data folder itself rather than connect: its files belong
 * to the image's postgres user, so they run from the image whatever engine.tools says.
 */
const DATA_FOLDER_TOOLS: ReadonlySet<PgTool> = new Set(['pg_checksums']);

/** What an instance needs of the engine that started it. */
export interface DockerHost {
  readonly client: ContainerRuntimeClient;
  readonly ctx: CommandContext;
  readonly image: string;
  readonly runId: string;
  /** The host's binaries, when the drill runs its tools from the host. */
  readonly hostBinaries: PgBinaries | undefined;
  /** The image's postgres user, when the image could be asked. */
  readonly imageUser: ImageFacts | undefined;
  runHelper(run: Omit<HelperRun, 'image'>, options?: CommandOptions, ctx?: CommandContext): Promise<CommandResult>;
}

/** The instance's folders on the host. */
export interface DockerFolders {
  workDir: string;
  backupDir: string;
  archiveDir: string;
  /** The data folder, mounted at the same path as PGDATA; none when it is a tmpfs inside the container. */
  dataDir: string | undefined;
  /** The tmpfs shared with the container for size-limited folders, when the drill asked for them. */
  limitedDir: string | undefined;
  /** Other instances' folders mounted at the same path (a struck instance's WAL archive). */
  mounts: readonly string[];
  /** Where its log is kept when it goes. */
  logDir: string;
}

export class DockerInstance implements Instance {
  readonly kind = 'docker' as const;
  readonly workDir: string;
  readonly backupDir: string;
  readonly archiveDir: string;
  readonly dataDir: string | undefined;
  readonly kill?: () => Promise<void>;
  readonly sizeLimitedFolder?: (name: string, bytes: number) => Promise<SizeLimitedFolder>;
  readonly serverSide: ServerSide;
  private readonly limitedDir: string | undefined;
  private readonly mounts: readonly string[];
  private readonly logDir: string;
  private readonly unregister: () => void;
  private readonly versions: ToolVersions;
  private limitedInUse = false;
  private removed = false;
  private logKept = false;

  constructor(
    private readonly engine: DockerHost,
    private readonly container: StartedTestContainer,
    readonly name: string,
    folders: DockerFolders,
    capabilities: Capabilities,
    /** The container's network and the port the server listens on in it. */
    private readonly listening: { network: NetworkMode; port: number },
    readonly connection: ConnectionInfo,
  ) {
    ({
      workDir: this.workDir,
      backupDir: this.backupDir,
      archiveDir: this.archiveDir,
      dataDir: this.dataDir,
      limitedDir: this.limitedDir,
      mounts: this.mounts,
      logDir: this.logDir,
    } = folders);
    // A host data folder is PGDATA at its host path; a tmpfs one is at the image's own PGDATA.
    this.serverSide = { dataDir: this.dataDir ?? PGDATA, socketDir: SOCKET_DIR, port: listening.port };
    if (capabilities.kill.supported) this.kill = () => this.killContainer();
    if (capabilities.sizeLimitedFolder.supported && this.limitedDir) this.sizeLimitedFolder = (name, bytes) => this.limitFolder(name, bytes);
    this.versions = new ToolVersions(async (tool) => {
      if (this.toolOnHost(tool)) {
        const path = join(this.engine.hostBinaries!.binDir, tool);
        return `${path} (host): ${(await runCommand(path, ['--version'], {})).stdout.trim()}`;
      }
      // Not recorded: a question about the tool, not work of the drill.
      const result = await this.execBeside([tool, '--version'], {}, { allowFailure: true }, [], {});
      return `${tool} in ${this.engine.image}: ${(result.stdout || result.stderr).trim()}`;
    });
    this.unregister = registerCleanup(async () => {
      await this.destroy({ keepFiles: false });
    });
  }

  get id(): string {
    return this.container.getId();
  }

  private docker() {
    return this.engine.client.container.getById(this.id);
  }

  async running(): Promise<boolean> {
    try {
      return (await this.docker().inspect()).State.Running;
    } catch {
      return false;
    }
  }

  waitReady(): Promise<void> {
    return waitForSelect1(() => this.connection, this.probe(READY_TIMEOUT_MS));
  }

  /** How a probe learns the container is gone, and what it quotes when it gives up. */
  private probe(timeoutMs: number): ProbeOptions {
    return {
      name: this.name,
      timeoutMs,
      ...(this.listening.network === 'host'
        ? { hint: "The container is on the host's network (engine.network): if the server's log below says it is ready, the Docker engine runs in another network namespace; set engine.network: bridge" }
        : {}),
      gone: async () => ((await this.running()) ? undefined : 'the container is not running'),
      logTail: () => this.logTail(),
    };
  }

  private async logs(): Promise<string> {
    try {
      return await containerLog(this.engine.client, this.id);
    } catch (error) {
      return `(no log: ${errorMessage(error)})`;
    }
  }

  connect(database = 'postgres'): Promise<Client> {
    return connectTo(this.connection, database);
  }

  serverInfo(): Promise<ServerInfo> {
    return serverInfoOf(this.connection);
  }

  private toolOnHost(tool: PgTool): boolean {
    return this.engine.hostBinaries !== undefined && !DATA_FOLDER_TOOLS.has(tool);
  }

  async runPgTool(tool: PgTool, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    const version = await this.toolVersion(tool);
    const env = { ...this.toolEnv(), ...options.env };
    if (this.toolOnHost(tool)) {
      return runCommand(join(this.engine.hostBinaries!.binDir, tool), args, this.engine.ctx, {
        ...options,
        tool: version,
        env: { ...env, PGHOST: this.connection.host, PGPORT: String(this.connection.port) },
      });
    }
    // Beside the server; on a stopped container (pg_checksums needs the cluster down), in a helper on its folders.
    return this.execBeside([tool, ...args], env, { ...options, tool: version });
  }

  runServerTool(file: string, args: readonly string[], { folders = [], ...options }: ServerToolOptions = {}): Promise<CommandResult> {
    return this.execBeside([file, ...args], { ...this.toolEnv(), ...options.env }, options, folders);
  }

  /** The host folders the container sees at their host paths. */
  private get hostFolders(): string[] {
    return [this.backupDir, this.archiveDir, ...this.mounts, ...(this.limitedDir ? [this.limitedDir] : []), ...(this.dataDir ? [this.dataDir] : [])];
  }

  /** Whether the container sees a host folder at its host path (it is one of its mounts, or inside one). */
  private reaches(folder: string): boolean {
    return this.hostFolders.some((mount) => folder === mount || folder.startsWith(`${mount}/`));
  }

  /**
   * In the instance's container while it runs and sees `folders`; otherwise in
   * a short-lived container of the same image, as the same user, on the
   * instance's folders and on `folders`, all at their host paths.
   */
  private async execBeside(
    command: string[],
    env: Record<string, string | undefined>,
    options: CommandOptions,
    folders: readonly string[] = [],
    ctx: CommandContext = this.engine.ctx,
  ): Promise<CommandResult> {
    if (folders.every((f) => this.reaches(f)) && (await this.running())) return this.execInContainer(command, env, options, ctx);
    // Docker would make a missing host folder (a lost instance's data folder) anew, empty and root's: those stay out.
    const binds = [...new Set([...this.hostFolders, ...folders])].filter((path) => existsSync(path)).map((path) => ({ source: path, target: path }));
    const run = { command, user: 'postgres', env, binds, labels: labelsFor(this.engine.runId, `${this.name}-helper`) };
    return this.engine.runHelper(run, options, ctx);
  }

  /** `docker exec` as the container's postgres user, recorded like any other command. */
  private async execInContainer(
    command: string[],
    env: Record<string, string | undefined>,
    options: CommandOptions = {},
    ctx: CommandContext = this.engine.ctx,
  ): Promise<CommandResult> {
    const startedAt = new Date().toISOString();
    const started = performance.now();
    const defined = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
    let result: { exitCode: number; stdout: string; stderr: string };
    let startError: string | undefined;
    const limitMs = timeoutOf(options);
    try {
      // A docker exec cannot be stopped from outside: `timeout` inside the container ends the command at the limit.
      result = await this.container.exec(['timeout', String(Math.ceil(limitMs / 1000)), ...command], { user: 'postgres', env: defined });
    } catch (error) {
      startError = errorMessage(error);
      result = { exitCode: -1, stdout: '', stderr: startError };
    }
    return settle(
      {
        escapedCommand: `docker exec --user postgres ${this.id.slice(0, 12)} ${command.map(shellQuote).join(' ')}`,
        startedAt,
        durationMs: performance.now() - started,
        exitCode: startError ? undefined : result.exitCode,
        timedOut: !startError && result.exitCode !== 0 && performance.now() - started >= limitMs,
        startError,
        stdout: result.stdout,
        stderr: result.stderr,
      },
      ctx,
      options,
    );
  }

  /**
   * On the host the container's user does not exist: host commands keep the
   * harness's rights, and the image's entrypoint hands a mounted data folder
   * to its own postgres user when the container starts.
   */
  runOnHost(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    return runCommand(file, args, { ...this.engine.ctx, runAs: undefined }, options);
  }

  runBesideServer(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    return this.execInContainer([file, ...args], { ...this.toolEnv(), ...options.env }, options);
  }

  canRunBesideServer(): Promise<boolean> {
    return this.running();
  }

  /**
   * The images' pg_hba.conf lets other hosts connect, but not for replication:
   * that line is added (and the configuration reloaded), and the standby reaches
   * the primary on loopback when both share the host's network, otherwise at its
   * address on Docker's bridge network.
   */
  readonly replicationSource = async (): Promise<{ host: string; port: number }> => {
    await this.runBesideServer('sh', ['-c', 'echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"']);
    const client = await this.connect();
    await client.query('select pg_reload_conf()').finally(() => client.end());
    if (this.listening.network === 'host') return { host: '127.0.0.1', port: this.listening.port };
    const address = (await this.docker().inspect()).NetworkSettings.Networks.bridge?.IPAddress;
    if (!address) throw new SetupError('SERVER_START_FAILED', `container of "${this.name}" has no address on Docker's default bridge network: a standby cannot reach it`);
    return { host: address, port: PG_PORT };
  };

  async logTail(lines = 30): Promise<string> {
    return tail(await this.logs(), lines);
  }

  /** Inside the container the server listens on its own port. */
  private toolEnv(): Record<string, string> {
    return { PGHOST: '127.0.0.1', PGPORT: String(this.listening.port), PGUSER: this.connection.user, PGPASSWORD: this.connection.password };
  }

  /** The container goes, and its data folder with it; its log is kept first, as evidence. */
  async lose(): Promise<void> {
    await this.keepLog();
    await this.docker().remove({ force: true, v: true });
    if (this.dataDir) await this.removeTree(this.dataDir);
  }

  /**
   * One folder of `bytes` at a time: the instance's tmpfs, seen by the
   * container since its start, is sized anew (a remount changes the limit of
   * every mount of it) and the folder made in it for the image's postgres user.
   */
  private async limitFolder(name: string, bytes: number): Promise<SizeLimitedFolder> {
    const root = this.limitedDir!;
    if (this.limitedInUse) throw new InternalError(`instance "${this.name}" already has a size-limited folder; on docker they share one tmpfs, one at a time`);
    const user = this.engine.imageUser;
    if (!user) throw new InternalError(`the postgres user of image ${this.engine.image} is unknown; the instance should not have started`);
    this.limitedInUse = true;
    const path = join(root, name);
    await resizeTmpfs(root, bytes, this.engine.ctx);
    await mkdir(path, { mode: 0o700 });
    await chown(path, user.uid, user.gid);
    return {
      path,
      release: async () => {
        await rm(path, { recursive: true, force: true });
        await resizeTmpfs(root, LIMITED_IDLE_BYTES, this.engine.ctx);
        this.limitedInUse = false;
      },
    };
  }

  /**
   * Removes a folder the container's user wrote to. A harness that is not
   * root may not delete those files: a root helper container empties the folder first.
   */
  private async removeTree(path: string): Promise<void> {
    try {
      await removeWorkDir(path);
    } catch {
      await this.engine.runHelper(
        { command: ['find', path, '-mindepth', '1', '-delete'], user: 'root', binds: [{ source: path, target: path }], labels: labelsFor(this.engine.runId, `${this.name}-helper`) },
        { allowFailure: true },
      );
      await rm(path, { recursive: true, force: true });
    }
  }

  waitPromoted(timeoutMs: number): Promise<void> {
    return waitForPromotion(() => this.connection, this.probe(timeoutMs));
  }

  toolVersion(tool: PgTool): Promise<string> {
    return this.versions.of(tool);
  }

  /** Docker may publish the port anew after a start: read it back. On the host's network the server keeps its own. */
  private async refreshPort(): Promise<void> {
    if (this.listening.network === 'host') return;
    const ports = (await this.docker().inspect()).NetworkSettings.Ports[`${PG_PORT}/tcp`];
    const hostPort = Number(ports?.[0]?.HostPort);
    if (hostPort) this.connection.port = hostPort;
  }

  async stop(): Promise<void> {
    await this.docker().stop({ t: 60 }).catch(() => undefined);
  }

  async start(): Promise<void> {
    await this.docker().start();
    await this.refreshPort();
    await this.waitReady();
  }

  private async killContainer(): Promise<void> {
    await this.docker().kill({ signal: 'SIGKILL' });
    await waitWhile(() => this.running(), 10_000, 50);
  }

  /** Copies the container's log into the run's folder, once, while the container still exists. */
  private async keepLog(): Promise<void> {
    if (this.logKept) return;
    this.logKept = await keepServerLog(this.logDir, this.name, { text: await this.logs() });
  }

  async destroy({ keepFiles }: { keepFiles: boolean }): Promise<{ keptAt?: string }> {
    if (this.removed) return {};
    this.removed = true;
    this.unregister();
    await this.keepLog();
    // The container always goes (nothing may be left running); a failed drill keeps its host files.
    await this.docker().remove({ force: true, v: true }).catch(() => undefined);
    await unmountAll(this.workDir, { inside: true });
    if (keepFiles) {
      await markKept(this.workDir);
      return { keptAt: this.workDir };
    }
    await this.removeTree(this.workDir).catch(() => undefined);
    return {};
  }
}
