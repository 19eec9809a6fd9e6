/**
 * The Docker engine: the same Instance, in a container started with
 * testcontainers (its PostgreSQL module). Backups land in a host folder
 * bind-mounted at the same path inside the container, so paths mean the same
 * on both sides. Client tools run inside the container (the server's own
 * major version) unless the drill asks for the host's binaries.
 *
 * The data folder is a host folder too, mounted at the same path and named
 * PGDATA (initialised by the image's entrypoint, with data checksums, unless
 * a restore filled it), so a stopped or lost container's files stay
 * reachable: a short-lived container of the same image (helper.ts) runs
 * pg_checksums or pgBackRest on them when the instance's own container
 * cannot, and a path pgBackRest writes into a restored data folder
 * (its restore_command's pg1-path) means the same to the server that reads
 * it. Only a size-limited data folder (engine.dataVolume) stays inside the
 * container, as a tmpfs at the image's own PGDATA.
 *
 * Every container carries labels naming the run and the harness process; the
 * harness removes its containers at the end and on Ctrl-C, and at the next
 * start removes those a killed harness left behind.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { GenericContainer, Wait } from 'testcontainers';
import { closingDown } from '../../support/cleanup.js';
import { errorMessage, SetupError } from '../../errors.js';
import { runCommand, TOOL_TIMEOUT_MS, type CommandContext, type CommandOptions } from '../../exec/command.js';
import type { EngineRecord } from '../../model/journal.js';
import { archiveSettings, commandLineFlags, type Settings } from '../../pg/conf.js';
import { withClient } from '../../pg/client.js';
import { mountTmpfs, unmountAll } from '../shared/mounts.js';
import { unprivilegedUser, type RunAs } from '../shared/os-user.js';
import { recorded } from '../shared/recorded.js';
import { makeWorkDir, removeOrphanedWorkDirs } from '../shared/workdir.js';
import { SUPPORTED, unsupported, type NetworkChoice, type Capabilities, type Capability, type Engine, type EngineOptions, type Instance, type InstanceOptions, type SeededCluster } from '../types.js';
import { cachedOrSeeded } from '../shared/seed-cache.js';
import { superuserPasswordStatement } from '../shared/superuser.js';
import { findPgBinaries, type PgBinaries } from '../shared/binaries.js';
import { freePort } from '../../support/ports.js';
import { imageFacts, runHelper, type HelperRun, type ImageFacts } from './helper.js';
import { DockerInstance, LIMITED_IDLE_BYTES, PG_PORT, PGDATA, SOCKET_DIR } from './instance.js';
import { labelsFor, removeContainerLeftovers, removeFailedStart } from './leftovers.js';
import { chooseNetwork, type NetworkMode } from './network.js';
import { dockerClient, type ContainerRuntimeClient } from './runtime.js';

const READY_TIMEOUT_MS = 60_000;
const MOUNT_NEEDS_ROOT =
  'a size-limited folder is a tmpfs mounted on the host and shared with the container, and mounting needs root; run the harness as root';

export type ToolSource = 'container' | 'host';

export interface DockerEngineOptions extends EngineOptions {
  image: string;
  /** Run client tools inside the container (default) or with the host's binaries. */
  tools?: ToolSource;
  /** The network the servers' containers join (network.ts); auto by default. */
  network?: NetworkChoice;
}

/** Whether a cluster's pg_hba.conf trusts every local (socket) connection, as the images' initdb leaves it (--auth-local=trust). */
async function trustsLocalConnections(dataDir: string): Promise<boolean> {
  const hba = await readFile(join(dataDir, 'pg_hba.conf'), 'utf8').catch(() => '');
  return hba.split('\n').some((line) => /^\s*local\s+all\s+all\s+trust\s*$/.test(line));
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
    /** The image's postgres user and pgBackRest, or why the image could not be asked. */
    private readonly facts: ImageFacts | string,
    /** The network the servers' containers join, and how it was chosen. */
    private readonly network: { mode: NetworkMode; chosenBy: string },
  ) {
    this.runAs = unprivilegedUser();
    this.ctx = { record: options.record, secrets: [this.password], runAs: this.runAs };
  }

  static async create(options: DockerEngineOptions): Promise<DockerEngine> {
    const client = await dockerClient();
    await removeContainerLeftovers(client);
    // A killed run may have left a size-limited folder mounted in its temp folder.
    await removeOrphanedWorkDirs(options.workRoot ?? tmpdir(), (dir) => unmountAll(dir, { inside: true }));
    const hostBinaries = options.tools === 'host' ? await findPgBinaries() : undefined;
    const [facts, network] = await Promise.all([
      // An image that cannot be had fails at the start, with its own message; until then, its facts are unknown.
      imageFacts(client, options.image, labelsFor(options.runId, 'image-facts')).catch((error: unknown) => errorMessage(error).split('\n')[0]!),
      chooseNetwork(client, options.network),
    ]);
    return new DockerEngine(client, options, hostBinaries, facts, network);
  }

  /** The image's server major, when the image said (a physical restore needs the same). */
  async serverMajor(): Promise<number | undefined> {
    return typeof this.facts === 'string' ? undefined : this.facts.serverMajor;
  }

  /** The image's postgres user, when the image could be asked. */
  get imageUser(): ImageFacts | undefined {
    return typeof this.facts === 'string' ? undefined : this.facts;
  }

  get runId(): string {
    return this.options.runId;
  }

  /** A short-lived container of the image (see helper.ts), recorded in the journal. */
  runHelper(run: Omit<HelperRun, 'image'>, options?: CommandOptions, ctx: CommandContext = this.ctx) {
    return runHelper(this.client, ctx, { ...run, image: this.options.image }, options);
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
      network: this.network.mode,
      networkChosenBy: this.network.chosenBy,
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
      pgbackrest: this.pgbackrest(),
      hostDataFiles: options.dataVolumeBytes
        ? unsupported('the data folder is a tmpfs inside the container (engine.dataVolume), not a host folder')
        : this.runAs
          ? SUPPORTED
          : unsupported("the data files belong to the container's postgres user, and only a harness running as root can damage them from the host"),
      sizeLimitedFolder: !this.runAs
        ? unsupported(MOUNT_NEEDS_ROOT)
        : options.sizeLimitedFolders
          ? SUPPORTED
          : unsupported(
              "a running container's mounts are fixed, so the folder must be prepared when the instance starts (InstanceOptions.sizeLimitedFolders), and this instance was not asked for it",
            ),
      serverRunsHostCommands: unsupported("the server runs in a container, where the team's scripts on the host are not: build them into the image, or drill them on the native engine"),
    };
  }

  /** pgBackRest must run beside the server, so the image itself must ship it. */
  private pgbackrest(): Capability {
    if (typeof this.facts === 'string') return unsupported(`could not ask image "${this.options.image}" whether it ships pgBackRest: ${this.facts}`);
    if (this.facts.pgbackrest) return SUPPORTED;
    return unsupported(
      `pgBackRest must run beside the server, inside the container, and image "${this.options.image}" does not ship it (scripts/docker/build-local-image.sh builds images that do; rebuild one made before it added pgBackRest with --force)`,
    );
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
    // The data folder is a host folder mounted at the same path as PGDATA, unless it is a tmpfs inside the container.
    // Empty, the image's entrypoint (started as root) initialises it and hands it to its postgres user;
    // a restore fills it first, as that user, so pgBackRest (which restores only into a folder of its
    // own user) can run in a container of the image.
    const dataDir = options.dataVolumeBytes ? undefined : join(workDir, 'data');
    let needed: Settings | void = undefined;
    let trustedSocket = false;
    if (dataDir) {
      await mkdir(dataDir, { mode: 0o700 });
      const user = this.imageUser;
      if (options.prepareData) {
        if (this.runAs && user) await chown(dataDir, user.uid, user.gid);
        needed = await options.prepareData(dataDir);
      } else if (options.cluster) {
        // A seeded cluster of this image, its owners kept; the entrypoint finds PG_VERSION and initialises nothing.
        await runCommand('cp', ['-a', '--reflink=auto', `${options.cluster}/.`, dataDir], { ...this.ctx, runAs: undefined }, { timeoutMs: TOOL_TIMEOUT_MS });
        if (user) await chown(dataDir, user.uid, user.gid);
        // Where the cluster trusts its own socket, the password is set once the server runs, in the container
        // itself; a short-lived container of its own costs more than the whole start.
        trustedSocket = await trustsLocalConnections(dataDir);
        if (!trustedSocket) await this.takeOver(dataDir, labelsFor(this.options.runId, `${name}-takeover`));
      }
    }
    // A size-limited folder needs a tmpfs the container sees from its start; it is sized when asked for.
    const limitedDir = options.sizeLimitedFolders && this.runAs ? join(workDir, 'limited') : undefined;
    if (limitedDir) {
      await mkdir(limitedDir, { mode: 0o755 });
      await mountTmpfs(limitedDir, `size=${LIMITED_IDLE_BYTES},mode=0755`, this.ctx);
    }
    const archive = options.walArchive ? archiveSettings(archiveDir, options.walArchive.timeoutMs) : {};
    // A prepared archive command (pgBackRest's) is set once the instance answers; until then
    // archive_mode keeps every segment for it.
    if (options.walArchive?.command) delete archive.archive_command;
    // Where the server listens, always given: a data folder made elsewhere brings its own postgresql.conf,
    // with another port, a loopback-only listen_addresses and a socket folder the container does not have.
    // On the host's network the server shares the host's ports: it takes a free one, on loopback alone.
    const onHost = this.network.mode === 'host';
    const port = onHost ? await freePort() : PG_PORT;
    const listen = { listen_addresses: onHost ? '127.0.0.1' : '*', port, unix_socket_directories: SOCKET_DIR };
    const settings = { fsync: 'on', ...listen, ...archive, ...options.settings, ...needed };
    // testcontainers' PostgreSQL module publishes the server's port; on the host's network there is none
    // to publish (and testcontainers would wait for a published port that never comes).
    const container = (
      onHost
        ? new GenericContainer(this.options.image)
            .withNetworkMode('host')
            .withEnvironment({ POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: this.password, POSTGRES_DB: 'postgres' })
        : new PostgreSqlContainer(this.options.image).withUsername('postgres').withPassword(this.password).withDatabase('postgres')
    )
      // As the native engine's clusters: a damaged page fails its checksum.
      .withEnvironment({ POSTGRES_INITDB_ARGS: '--data-checksums', ...(dataDir ? { PGDATA: dataDir } : {}) })
      .withLabels(labelsFor(this.options.runId, name))
      .withBindMounts([
        { source: backupDir, target: backupDir, mode: 'rw' },
        { source: archiveDir, target: archiveDir, mode: 'rw' },
        ...(options.mounts ?? []).map((path) => ({ source: path, target: path, mode: 'rw' as const })),
        ...(dataDir ? [{ source: dataDir, target: dataDir, mode: 'rw' as const }] : []),
        ...(limitedDir ? [{ source: limitedDir, target: limitedDir, mode: 'rw' as const }] : []),
      ])
      .withCommand(['postgres', ...commandLineFlags(settings)])
      // Readiness is our own select 1 probe (waitReady), which also gives up as soon as the container
      // stops; so testcontainers waits for nothing. Its health check can report a restored server
      // unhealthy while it still replays WAL, and its port check, which execs into the container on a
      // 100 ms cycle, added up to 0.6 s to every start after the server already listened.
      .withWaitStrategy(Wait.forAll([]))
      .withStartupTimeout(READY_TIMEOUT_MS);
    if (options.dataVolumeBytes) container.withTmpFs({ [PGDATA]: `rw,size=${options.dataVolumeBytes}` });

    const handle = await recorded(
      this.ctx,
      (started) =>
        started
          ? `testcontainers start ${this.options.image} (container ${started.getId().slice(0, 12)}, ${onHost ? `host network, port ${port}` : `port ${started.getMappedPort(PG_PORT)}`})`
          : `testcontainers start ${this.options.image}`,
      () => container.start(),
    ).catch(async (error: unknown) => {
      await removeFailedStart(this.client, this.options.runId, name, logDir);
      if (limitedDir) await unmountAll(limitedDir, { inside: false });
      throw new SetupError(
        'SERVER_START_FAILED',
        `could not start a container from image "${this.options.image}": ${errorMessage(error).split('\n')[0]}. ` +
          'Without a registry, build a local image with scripts/docker/build-local-image.sh and pass --image restore-drill/postgres:15-local.',
      );
    });
    const folders = { workDir, backupDir, archiveDir, dataDir, limitedDir, mounts: options.mounts ?? [], logDir };
    const instance = new DockerInstance(this, handle, name, folders, this.capabilities(options), { network: this.network.mode, port }, {
      host: onHost ? '127.0.0.1' : handle.getHost(),
      port: onHost ? port : handle.getMappedPort(PG_PORT),
      user: 'postgres',
      password: this.password,
    });
    try {
      if (trustedSocket) await this.setPasswordInside(instance);
      await instance.waitReady();
      const command = await options.walArchive?.command?.(instance);
      if (command) {
        await withClient(
          () => instance.connect(),
          async (client) => {
            const { rows } = await client.query<{ sql: string }>('select format($$alter system set archive_command = %L$$, $1::text) as sql', [command]);
            await client.query(rows[0]!.sql);
            await client.query('select pg_reload_conf()');
          },
        );
      }
    } catch (error) {
      // A container that would not start keeps its files for a look, unless it failed because the run is stopping.
      await instance.destroy({ keepFiles: !closingDown() });
      throw error;
    }
    return instance;
  }

  /**
   * A copied cluster has another run's superuser password: over the
   * container's own socket, which the image's initdb trusts, the superuser
   * gets this engine's before anything logs in with it. The server is still
   * starting when the container is, so pg_isready waits for it inside the
   * same exec, 20 ms apart (an exec costs about 0.15 s, a pg_isready next to
   * nothing), as many times as fit in the start's timeout. The statement
   * (which carries the password's verifier, not the password) travels in the
   * environment, never on a command line.
   */
  private async setPasswordInside(instance: DockerInstance): Promise<void> {
    const tries = READY_TIMEOUT_MS / 20;
    const result = await instance.runServerTool(
      'sh',
      [
        '-c',
        `i=0; until pg_isready -q -h "$1" -p "$2" || [ $i -ge ${tries} ]; do i=$((i + 1)); sleep 0.02; done; ` +
          'printf "%s\\n" "$STATEMENT" | psql -X -q -v ON_ERROR_STOP=1 -h "$1" -p "$2" -U postgres -d postgres',
        'sh',
        SOCKET_DIR,
        String(instance.serverSide.port),
      ],
      { env: { STATEMENT: superuserPasswordStatement(this.password) }, allowFailure: true },
    );
    if (result.failed) {
      throw new SetupError('SERVER_START_FAILED', `could not give the copied cluster this run's password over the container's socket: ${result.stderr.trim()}`);
    }
  }

  /**
   * A copied cluster has another run's superuser password: in single-user
   * mode, in a short-lived container of the image, the superuser gets this
   * engine's. The statement travels in the environment, never on a command line.
   */
  private async takeOver(dataDir: string, labels: Record<string, string>): Promise<void> {
    await this.runHelper(
      {
        command: ['sh', '-c', 'printf "%s\\n" "$STATEMENT" | postgres --single -D "$1" postgres', 'sh', dataDir],
        user: 'postgres',
        env: { STATEMENT: superuserPasswordStatement(this.password) },
        binds: [{ source: dataDir, target: dataDir }],
        labels,
      },
      { timeoutMs: 120_000 },
    );
  }

  /**
   * The Docker engine keeps seeded clusters as the native engine does: its
   * data folders are host folders. Not for an instance whose data folder is
   * a tmpfs inside the container (engine.dataVolume), which cannot be filled
   * before its server starts; and only as root, as the files belong to the
   * image's postgres user. Kept per image id, not per tag.
   */
  seededCluster(
    key: string,
    day: string,
    logDir: string,
    seed: (instance: Instance) => Promise<Record<string, unknown>>,
    forInstance: InstanceOptions,
  ): Promise<SeededCluster | undefined> {
    const image = this.imageUser;
    if (forInstance.dataVolumeBytes || !this.runAs || !image) return Promise.resolve(undefined);
    return cachedOrSeeded({ key: `${key}-${image.id.replace(/^sha256:/, '').slice(0, 12)}`, day }, () => this.startInstance('seed-cache', logDir), seed, this.ctx);
  }

  async dispose(): Promise<void> {}
}
