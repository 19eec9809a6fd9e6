/**
 * The Docker engine: the same Instance, in a container started with
 * testcontainers (its PostgreSQL module). Backups land in a host folder
 * bind-mounted at the same path inside the container, so paths mean the same
 * on both sides. Client tools run inside the container (the server's own
 * major version) unless the drill asks for the host's binaries.
 *
 * testcontainers' reaper (Ryuk) is off: its image cannot be pulled
 * everywhere. Every container carries labels naming the run and the harness
 * process; the harness removes its containers at the end and on Ctrl-C, and
 * at the next start removes those a killed harness left behind.
 */
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { PostgreSqlContainer, type StartedPostgreSqlContainer } from '@testcontainers/postgresql';
import { getContainerRuntimeClient, Wait, type ContainerRuntimeClient } from 'testcontainers';
import { randomBytes } from 'node:crypto';
import { sleep } from '../clock.js';
import { errorMessage, SetupError, UnsupportedError } from '../errors.js';
import { runCommand, settle, shellQuote, tail, type CommandContext, type CommandOptions, type CommandResult } from '../exec/command.js';
import { registerCleanup } from '../lifecycle.js';
import { archiveSettings } from '../backup/basebackup.js';
import { SUPPORTED, unsupported, type Capabilities, type Engine, type InstanceOptions } from './engine.js';
import { connectTo, serverInfoOf, type ConnectionInfo, type Instance, type PgTool, type ServerInfo } from './instance.js';
import { handOver, unprivilegedUser, type RunAs } from './os-user.js';
import { findPgBinaries, type PgBinaries } from './pg-binaries.js';
import { waitForPromotion, waitForSelect1, type ProbeOptions } from './readiness.js';
import { isAlive, makeWorkDir, removeOrphanedWorkDirs } from './workdir.js';

export const LABEL = 'restore-drill';
const PG_PORT = 5432;
const PGDATA = '/var/lib/postgresql/data';
const READY_TIMEOUT_MS = 60_000;

export type ToolSource = 'container' | 'host';

export interface DockerEngineOptions {
  runId: string;
  ctx: CommandContext;
  image: string;
  /** Run client tools inside the container (default) or with the host's binaries. */
  tools?: ToolSource;
  workRoot?: string;
}

interface Dockerode {
  listContainers(options: object): Promise<Array<{ Id: string; Labels: Record<string, string> }>>;
  getContainer(id: string): {
    remove(options: object): Promise<unknown>;
    kill(options: object): Promise<unknown>;
    start(): Promise<unknown>;
    stop(options: object): Promise<unknown>;
    inspect(): Promise<{ State: { Running: boolean }; NetworkSettings: { IPAddress?: string; Ports: Record<string, Array<{ HostPort: string }> | null> } }>;
    logs(options: object): Promise<Buffer>;
  };
}

/** testcontainers talks to Docker through dockerode; the calls it does not wrap (list all, kill, start) go to it directly. */
function dockerode(client: ContainerRuntimeClient): Dockerode {
  return (client.container as unknown as { dockerode: Dockerode }).dockerode;
}

/** Docker's log stream for a container without a TTY: 8-byte frame headers, then the payload. */
function demux(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Removes containers whose harness process on this host is gone. Returns their ids. */
export async function removeContainerLeftovers(client: ContainerRuntimeClient): Promise<string[]> {
  const docker = dockerode(client);
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=true`] } });
  const removed: string[] = [];
  for (const { Id, Labels } of containers) {
    const pid = Number(Labels[`${LABEL}.pid`]);
    if (Labels[`${LABEL}.host`] !== hostname() || (pid && isAlive(pid))) continue;
    await docker.getContainer(Id).remove({ force: true, v: true });
    removed.push(Id);
  }
  return removed;
}

/** The containers of a run, running or not (for tests and for people asking `docker ps -a`). */
export async function containersOfRun(runId: string): Promise<string[]> {
  const client = await getContainerRuntimeClient();
  const containers = await dockerode(client).listContainers({ all: true, filters: { label: [`${LABEL}.run=${runId}`] } });
  return containers.map((c) => c.Id);
}

export async function dockerAvailable(): Promise<string | undefined> {
  try {
    await getContainerRuntimeClient();
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

export class DockerEngine implements Engine {
  readonly kind = 'docker' as const;
  private readonly password = randomBytes(16).toString('hex');
  private readonly runAs: RunAs | undefined;

  private constructor(
    private readonly client: ContainerRuntimeClient,
    private readonly options: DockerEngineOptions,
    /** The host's binaries, when the drill runs its tools from the host. */
    readonly hostBinaries: PgBinaries | undefined,
  ) {
    options.ctx.secrets = [...(options.ctx.secrets ?? []), this.password];
    this.runAs = unprivilegedUser();
    options.ctx.runAs = this.runAs;
  }

  static async create(options: DockerEngineOptions): Promise<DockerEngine> {
    // Set before testcontainers first looks: no reaper image, and a host name that works without one.
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';
    let client: ContainerRuntimeClient;
    try {
      client = await getContainerRuntimeClient();
    } catch (error) {
      throw new SetupError(
        'DOCKER_UNAVAILABLE',
        `--engine docker needs a Docker engine, and none answered (${errorMessage(error).split('\n')[0]}). ` +
          'Start dockerd (or Docker Desktop), check DOCKER_HOST, or run with --engine native.',
      );
    }
    await removeContainerLeftovers(client);
    await removeOrphanedWorkDirs(options.workRoot ?? tmpdir());
    const hostBinaries = options.tools === 'host' ? await findPgBinaries() : undefined;
    return new DockerEngine(client, options, hostBinaries);
  }

  get ctx(): CommandContext {
    return this.options.ctx;
  }

  get clientBinDir(): string | undefined {
    return this.hostBinaries?.binDir;
  }

  get tools(): ToolSource {
    return this.options.tools ?? 'container';
  }

  describe(): Record<string, unknown> {
    return {
      kind: this.kind,
      image: this.options.image,
      toolSource: this.tools,
      docker: `${this.client.info.containerRuntime.host} (server ${this.client.info.containerRuntime.serverVersion ?? 'unknown'})`,
      ...(this.hostBinaries ? { hostBinaries: this.hostBinaries.binDir } : {}),
    };
  }

  capabilities(options: InstanceOptions = {}): Capabilities {
    return {
      kill: options.dataVolumeBytes
        ? unsupported(
            'the data folder is a tmpfs, which Docker empties when the container stops: after a kill there would be nothing for crash recovery to recover',
          )
        : SUPPORTED,
      sizeLimitedVolume: SUPPORTED,
      standby: SUPPORTED,
      pgbackrest: unsupported('pgBackRest must run beside the server, inside the container, and the images do not ship it'),
    };
  }

  async startInstance(name: string, logDir: string, options: InstanceOptions = {}): Promise<DockerInstance> {
    const workDir = await makeWorkDir(this.options.workRoot ?? tmpdir(), this.options.runId, name, this.runAs);
    const backupDir = join(workDir, 'backups');
    const archiveDir = join(workDir, 'archive');
    for (const dir of [backupDir, archiveDir]) {
      await mkdir(dir);
      // Written by the container's postgres user (its uid differs by image) and read by the harness.
      await chmod(dir, 0o777);
    }
    // A restored instance's data folder is prepared on the host and mounted as PGDATA;
    // the image's entrypoint, started as root, hands it to its postgres user.
    const dataDir = options.prepareData ? join(workDir, 'data') : undefined;
    if (dataDir) {
      await mkdir(dataDir, { mode: 0o700 });
      await handOver(dataDir, this.runAs);
      await options.prepareData!(dataDir);
    }
    const { pgbackrest } = this.capabilities(options);
    if (options.walArchive?.command && !pgbackrest.supported) throw new UnsupportedError(pgbackrest.why);
    const archive = options.walArchive ? archiveSettings(archiveDir, options.walArchive.timeoutMs) : {};
    const settings = Object.entries({ fsync: 'on', ...archive, ...options.settings }).flatMap(([key, value]) => ['-c', `${key}=${value.replace(/^'(.*)'$/, '$1')}`]);
    const container = new PostgreSqlContainer(this.options.image)
      .withUsername('postgres')
      .withPassword(this.password)
      .withDatabase('postgres')
      .withLabels({
        [LABEL]: 'true',
        [`${LABEL}.run`]: this.options.runId,
        [`${LABEL}.pid`]: String(process.pid),
        [`${LABEL}.host`]: hostname(),
        [`${LABEL}.instance`]: name,
      })
      .withBindMounts([
        { source: backupDir, target: backupDir, mode: 'rw' },
        { source: archiveDir, target: archiveDir, mode: 'rw' },
        ...(options.mounts ?? []).map((path) => ({ source: path, target: path, mode: 'rw' as const })),
        ...(dataDir ? [{ source: dataDir, target: PGDATA, mode: 'rw' as const }] : []),
      ])
      .withCommand(['postgres', ...settings])
      // Readiness is our own select 1 probe (waitReady); the module's health check can
      // report a restored server unhealthy while it is still replaying WAL.
      .withWaitStrategy(Wait.forListeningPorts())
      .withStartupTimeout(READY_TIMEOUT_MS);
    if (options.dataVolumeBytes) container.withTmpFs({ [PGDATA]: `rw,size=${options.dataVolumeBytes}` });

    const startedAt = new Date().toISOString();
    const started = performance.now();
    let handle: StartedPostgreSqlContainer;
    try {
      handle = await container.start();
    } catch (error) {
      settle(
        {
          escapedCommand: `testcontainers start ${this.options.image}`,
          startedAt,
          durationMs: performance.now() - started,
          exitCode: 1,
          timedOut: false,
          stdout: '',
          stderr: errorMessage(error),
        },
        this.ctx,
        { allowFailure: true },
      );
      await removeFailedStart(this.client, this.options.runId, name, logDir);
      throw new SetupError(
        'SERVER_START_FAILED',
        `could not start a container from image "${this.options.image}": ${errorMessage(error).split('\n')[0]}. ` +
          'Without a registry, build a local image with scripts/docker/build-local-image.sh and pass --image restore-drill/postgres:15-local.',
      );
    }
    settle(
      {
        escapedCommand: `testcontainers start ${this.options.image} (container ${handle.getId().slice(0, 12)}, port ${handle.getMappedPort(PG_PORT)})`,
        startedAt,
        durationMs: performance.now() - started,
        exitCode: 0,
        timedOut: false,
        stdout: '',
        stderr: '',
      },
      this.ctx,
    );
    const instance = new DockerInstance(this, this.client, handle, name, workDir, backupDir, archiveDir, dataDir, logDir, this.capabilities(options), {
      host: handle.getHost(),
      port: handle.getMappedPort(PG_PORT),
      user: 'postgres',
      password: this.password,
    });
    await instance.waitReady();
    return instance;
  }

  async dispose(): Promise<void> {}
}

/** Removes the containers of one instance that failed to start, keeping their logs as evidence first. */
async function removeFailedStart(client: ContainerRuntimeClient, runId: string, name: string, logDir: string): Promise<void> {
  const docker = dockerode(client);
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL}.run=${runId}`, `${LABEL}.instance=${name}`] } });
  for (const { Id } of containers) {
    const container = docker.getContainer(Id);
    try {
      await mkdir(logDir, { recursive: true });
      await writeFile(join(logDir, `postgresql-${name}.log`), demux(await container.logs({ stdout: true, stderr: true, follow: false })));
    } catch {
      // Keep going: the container must not outlive the failure.
    }
    await container.remove({ force: true, v: true });
  }
}

export class DockerInstance implements Instance {
  readonly kind = 'docker' as const;
  private readonly unregister: () => void;
  private readonly versions = new Map<string, string>();
  private removed = false;

  constructor(
    private readonly engine: DockerEngine,
    private readonly client: ContainerRuntimeClient,
    private readonly container: StartedPostgreSqlContainer,
    readonly name: string,
    readonly workDir: string,
    readonly backupDir: string,
    readonly archiveDir: string,
    readonly dataDir: string | undefined,
    private readonly logDir: string,
    readonly capabilities: Capabilities,
    readonly connection: ConnectionInfo,
  ) {
    this.unregister = registerCleanup(async () => {
      await this.destroy({ keepFiles: false });
    });
  }

  get id(): string {
    return this.container.getId();
  }

  private docker() {
    return dockerode(this.client).getContainer(this.id);
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
      gone: async () => ((await this.running()) ? undefined : 'the container is not running'),
      logTail: () => this.logTail(),
    };
  }

  private async logs(): Promise<string> {
    try {
      return demux(await this.docker().logs({ stdout: true, stderr: true, follow: false }));
    } catch (error) {
      return `(no log: ${errorMessage(error)})`;
    }
  }

  connect(database = 'postgres'): Promise<pg.Client> {
    return connectTo(this.connection, database);
  }

  serverInfo(): Promise<ServerInfo> {
    return serverInfoOf(this.connection);
  }

  async runTool(tool: PgTool, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    const version = await this.toolVersion(tool);
    const env = { ...this.toolEnv(), ...options.env };
    if (this.engine.hostBinaries) {
      return runCommand(join(this.engine.hostBinaries.binDir, tool), args, this.engine.ctx, {
        ...options,
        tool: version,
        env: { ...env, PGHOST: this.connection.host, PGPORT: String(this.connection.port) },
      });
    }
    return this.execInContainer([tool, ...args], env, { ...options, tool: version });
  }

  /** `docker exec` as the container's postgres user, recorded like any other command. */
  private async execInContainer(command: string[], env: Record<string, string | undefined>, options: CommandOptions = {}): Promise<CommandResult> {
    const startedAt = new Date().toISOString();
    const started = performance.now();
    const defined = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
    let result: { exitCode: number; stdout: string; stderr: string };
    let startError: string | undefined;
    try {
      result = await this.container.exec(command, { user: 'postgres', env: defined });
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
        timedOut: false,
        startError,
        stdout: result.stdout,
        stderr: result.stderr,
      },
      this.engine.ctx,
      options,
    );
  }

  /**
   * On the host the container's user does not exist: host commands keep the
   * harness's rights, and the image's entrypoint hands a mounted data folder
   * to its own postgres user when the container starts.
   */
  runHost(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    return runCommand(file, args, { ...this.engine.ctx, runAs: undefined }, options);
  }

  exec(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    return this.execInContainer([file, ...args], { ...this.toolEnv(), ...options.env }, options);
  }

  canExec(): Promise<boolean> {
    return this.running();
  }

  /**
   * The images' pg_hba.conf lets other hosts connect, but not for replication:
   * that line is added (and the configuration reloaded), and the standby reaches
   * the primary at its address on Docker's bridge network.
   */
  async replicationSource(): Promise<{ host: string; port: number }> {
    await this.exec('sh', ['-c', 'echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"']);
    const client = await this.connect();
    await client.query('select pg_reload_conf()').finally(() => client.end());
    const address = (await this.docker().inspect()).NetworkSettings.IPAddress;
    if (!address) throw new Error(`container of "${this.name}" has no address on Docker's default bridge network`);
    return { host: address, port: PG_PORT };
  }

  async sizeLimitedFolder(): Promise<{ path: string; release: () => Promise<void> }> {
    throw new UnsupportedError(
      'a new size-limited folder cannot be mounted into a running container (its mounts are fixed when it starts); the docker engine offers a size-limited data folder (engine.dataVolume) instead',
    );
  }

  async logTail(lines = 30): Promise<string> {
    return tail(await this.logs(), lines);
  }

  /** Inside the container the server listens on its own port. */
  private toolEnv(): Record<string, string> {
    return { PGHOST: '127.0.0.1', PGPORT: String(PG_PORT), PGUSER: this.connection.user, PGPASSWORD: this.connection.password };
  }

  /** The container goes, and its data with it; its log is kept first, as evidence. */
  async lose(): Promise<void> {
    await this.keepLog();
    await this.docker().remove({ force: true, v: true });
  }

  waitPromoted(timeoutMs: number): Promise<void> {
    return waitForPromotion(() => this.connection, this.probe(timeoutMs));
  }

  async toolVersion(tool: PgTool): Promise<string> {
    let version = this.versions.get(tool);
    if (!version) {
      if (this.engine.hostBinaries) {
        const path = join(this.engine.hostBinaries.binDir, tool);
        version = `${path} (host): ${(await runCommand(path, ['--version'], {})).stdout.trim()}`;
      } else {
        const result = await this.container.exec([tool, '--version'], { user: 'postgres' });
        version = `${tool} in ${this.engine.describe().image as string}: ${result.stdout.trim()}`;
      }
      this.versions.set(tool, version);
    }
    return version;
  }

  /** Docker may publish the port anew after a start: read it back. */
  private async refreshPort(): Promise<void> {
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

  async kill(): Promise<void> {
    if (!this.capabilities.kill.supported) throw new Error(this.capabilities.kill.why);
    await this.docker().kill({ signal: 'SIGKILL' });
    const deadline = performance.now() + 10_000;
    while (performance.now() < deadline && (await this.running())) await sleep(50);
  }

  private logKept = false;

  /** Copies the container's log into the run's folder, once, while the container still exists. */
  private async keepLog(): Promise<void> {
    if (this.logKept) return;
    try {
      await mkdir(this.logDir, { recursive: true });
      await writeFile(join(this.logDir, `postgresql-${this.name}.log`), await this.logs());
      this.logKept = true;
    } catch {
      // The log is evidence, not a reason to leave a container behind.
    }
  }

  async destroy({ keepFiles }: { keepFiles: boolean }): Promise<{ keptAt?: string }> {
    if (this.removed) return {};
    this.removed = true;
    this.unregister();
    await this.keepLog();
    // The container always goes (nothing may be left running); a failed drill keeps its host files.
    await this.docker().remove({ force: true, v: true }).catch(() => undefined);
    if (keepFiles) return { keptAt: this.workDir };
    await rm(this.workDir, { recursive: true, force: true });
    return {};
  }
}
