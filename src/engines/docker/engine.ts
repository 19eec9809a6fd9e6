/**
 * The Docker engine: the same Instance, in a container started with
 * testcontainers (its PostgreSQL module). Backups land in a host folder
 * bind-mounted at the same path inside the container, so paths mean the same
 * on both sides. Client tools run inside the container (the server's own
 * major version) unless the drill asks for the host's binaries.
 *
 * Every container carries labels naming the run and the harness process; the
 * harness removes its containers at the end and on Ctrl-C, and at the next
 * start removes those a killed harness left behind.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { Wait } from 'testcontainers';
import { errorMessage, SetupError } from '../../errors.js';
import type { CommandContext } from '../../exec/command.js';
import type { EngineRecord } from '../../model/journal.js';
import { archiveSettings, commandLineFlags } from '../../pg/conf.js';
import { handOver, unprivilegedUser, type RunAs } from '../shared/os-user.js';
import { recorded } from '../shared/recorded.js';
import { makeWorkDir, removeOrphanedWorkDirs } from '../shared/workdir.js';
import { SUPPORTED, unsupported, type Capabilities, type Engine, type EngineOptions, type InstanceOptions } from '../types.js';
import { findPgBinaries, type PgBinaries } from '../shared/binaries.js';
import { DockerInstance, PG_PORT, PGDATA } from './instance.js';
import { labelsFor, removeContainerLeftovers, removeFailedStart } from './leftovers.js';
import { dockerClient, type ContainerRuntimeClient } from './runtime.js';

const READY_TIMEOUT_MS = 60_000;

export type ToolSource = 'container' | 'host';

export interface DockerEngineOptions extends EngineOptions {
  image: string;
  /** Run client tools inside the container (default) or with the host's binaries. */
  tools?: ToolSource;
}

export class DockerEngine implements Engine {
  readonly kind = 'docker' as const;
  /** How the engine's commands are recorded, redacted, and whose rights host commands keep. */
  readonly ctx: CommandContext;
  private readonly password = randomBytes(16).toString('hex');
  private readonly runAs: RunAs | undefined;

  private constructor(
    readonly client: ContainerRuntimeClient,
    private readonly options: DockerEngineOptions,
    /** The host's binaries, when the drill runs its tools from the host. */
    readonly hostBinaries: PgBinaries | undefined,
  ) {
    this.runAs = unprivilegedUser();
    this.ctx = { record: options.record, secrets: [this.password], runAs: this.runAs };
  }

  static async create(options: DockerEngineOptions): Promise<DockerEngine> {
    const client = await dockerClient();
    await removeContainerLeftovers(client);
    await removeOrphanedWorkDirs(options.workRoot ?? tmpdir());
    const hostBinaries = options.tools === 'host' ? await findPgBinaries() : undefined;
    return new DockerEngine(client, options, hostBinaries);
  }

  get secrets(): readonly string[] {
    return [this.password];
  }

  get clientBinDir(): string | undefined {
    return this.hostBinaries?.binDir;
  }

  get image(): string {
    return this.options.image;
  }

  describe(): EngineRecord {
    return {
      kind: this.kind,
      image: this.options.image,
      toolSource: this.options.tools ?? 'container',
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
      hostDataFiles: unsupported("the container's data folder is not reachable from the host"),
      sizeLimitedFolder: unsupported(
        'a new size-limited folder cannot be mounted into a running container (its mounts are fixed when it starts); the docker engine offers a size-limited data folder (engine.dataVolume) instead',
      ),
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
    const settings = {
      fsync: 'on',
      ...(options.walArchive ? archiveSettings(archiveDir, options.walArchive.timeoutMs) : {}),
      ...options.settings,
    };
    const container = new PostgreSqlContainer(this.options.image)
      .withUsername('postgres')
      .withPassword(this.password)
      .withDatabase('postgres')
      .withLabels(labelsFor(this.options.runId, name))
      .withBindMounts([
        { source: backupDir, target: backupDir, mode: 'rw' },
        { source: archiveDir, target: archiveDir, mode: 'rw' },
        ...(options.mounts ?? []).map((path) => ({ source: path, target: path, mode: 'rw' as const })),
        ...(dataDir ? [{ source: dataDir, target: PGDATA, mode: 'rw' as const }] : []),
      ])
      .withCommand(['postgres', ...commandLineFlags(settings)])
      // Readiness is our own select 1 probe (waitReady); the module's health check can
      // report a restored server unhealthy while it is still replaying WAL.
      .withWaitStrategy(Wait.forListeningPorts())
      .withStartupTimeout(READY_TIMEOUT_MS);
    if (options.dataVolumeBytes) container.withTmpFs({ [PGDATA]: `rw,size=${options.dataVolumeBytes}` });

    const handle = await recorded(
      this.ctx,
      (started) =>
        started
          ? `testcontainers start ${this.options.image} (container ${started.getId().slice(0, 12)}, port ${started.getMappedPort(PG_PORT)})`
          : `testcontainers start ${this.options.image}`,
      () => container.start(),
    ).catch(async (error: unknown) => {
      await removeFailedStart(this.client, this.options.runId, name, logDir);
      throw new SetupError(
        'SERVER_START_FAILED',
        `could not start a container from image "${this.options.image}": ${errorMessage(error).split('\n')[0]}. ` +
          'Without a registry, build a local image with scripts/docker/build-local-image.sh and pass --image restore-drill/postgres:15-local.',
      );
    });
    const instance = new DockerInstance(this, handle, name, { workDir, backupDir, archiveDir, dataDir, logDir }, this.capabilities(options), {
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
