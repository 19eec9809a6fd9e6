/**
 * The embedded default engine: throwaway clusters started from the machine's
 * own PostgreSQL binaries, each in its own temp folder (data, socket, backups,
 * log), with data checksums on and fsync left on so crash faults are honest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnsupportedError } from '../../errors.js';
import { runCommand, TOOL_TIMEOUT_MS, type CommandContext } from '../../exec/command.js';
import type { EngineRecord } from '../../model/journal.js';
import { archiveSettings, type Settings } from '../../pg/conf.js';
import { majorOf } from '../../pg/versions.js';
import { closingDown, registerCleanup } from '../../support/cleanup.js';
import { onPath } from '../../support/path-search.js';
import { VERSION } from '../../support/version.js';
import { mountTmpfs } from '../shared/mounts.js';
import { handOver, unprivilegedUser, type RunAs } from '../shared/os-user.js';
import { makeWorkDir } from '../shared/workdir.js';
import { SUPPORTED, unsupported, type Capabilities, type Engine, type EngineOptions, type Instance, type InstanceOptions, type SeededCluster } from '../types.js';
import { findPgBinaries, hasTimescaleLibrary, timescaleVersions, type PgBinaries } from '../shared/binaries.js';
import { cachedEmptyCluster, cachedOrSeeded, fileEmptyCluster } from '../shared/seed-cache.js';
import { SUPERUSER, superuserPasswordStatement } from '../shared/superuser.js';
import { NativeInstance } from './instance.js';
import { mayMount } from './procfs.js';
import { removeLeftovers } from './leftovers.js';

/**
 * How the engine's clusters let the harness in: trust on their socket, whose
 * folder is the server's user's alone (0700), so whoever reaches it could read
 * the data folder anyway; a password over TCP. Part of the keys of the
 * clusters it caches: one made otherwise could not be given this run's
 * password over its socket.
 */
const CLUSTER_ACCESS = 'socket-trust';
const MOUNT_NEEDS_ROOT = 'a size-limited folder is a tmpfs mount, and mounting needs root on the native engine; run the harness as root';
const MOUNT_NEEDS_PRIVILEGE = 'a size-limited folder is a tmpfs mount, and this root may not mount (no CAP_SYS_ADMIN, as in a container); run the container with --privileged';

export interface NativeEngineOptions extends EngineOptions {
  binDir?: string;
}

export class NativeEngine implements Engine {
  readonly kind = 'native' as const;
  /** How the engine's commands are recorded, redacted, and whose rights they run with. */
  readonly ctx: CommandContext;
  private templateDir?: Promise<string>;
  private readonly password = randomBytes(16).toString('hex');
  private readonly unregister: () => void;
  private readonly pgbackrestInstalled = onPath('pgbackrest');

  private constructor(
    readonly binaries: PgBinaries,
    readonly runAs: RunAs | undefined,
    private readonly options: NativeEngineOptions,
    readonly timescaleLibrary: boolean,
    /** Why a tmpfs cannot be mounted here, if it cannot. */
    private readonly noMount: string | undefined,
  ) {
    this.ctx = { record: options.record, secrets: [this.password], runAs };
    this.unregister = registerCleanup(() => this.dispose());
  }

  static async create(options: NativeEngineOptions): Promise<NativeEngine> {
    const binaries = await findPgBinaries(options.binDir);
    const runAs = unprivilegedUser();
    // Apart from each other, so at once: each of the first two waits on the disk or a process.
    const [, timescale, mountable] = await Promise.all([removeLeftovers(options.workRoot), hasTimescaleLibrary(binaries.binDir), mayMount()]);
    const noMount = !runAs ? MOUNT_NEEDS_ROOT : mountable ? undefined : MOUNT_NEEDS_PRIVILEGE;
    return new NativeEngine(binaries, runAs, options, timescale, noMount);
  }

  get secrets(): readonly string[] {
    return [this.password];
  }

  get clientBinDir(): string {
    return this.binaries.binDir;
  }

  describe(): EngineRecord {
    return { kind: this.kind, binaries: this.binaries.binDir, binariesFoundBy: this.binaries.source, version: this.binaries.versionText };
  }

  capabilities(): Capabilities {
    const mount = this.noMount ? unsupported(this.noMount) : SUPPORTED;
    return {
      kill: SUPPORTED,
      sizeLimitedVolume: mount,
      standby: SUPPORTED,
      pgbackrest: this.pgbackrestInstalled ? SUPPORTED : unsupported('pgbackrest is not installed on this machine (Debian/Ubuntu: apt-get install pgbackrest)'),
      hostDataFiles: SUPPORTED,
      sizeLimitedFolder: mount,
      serverRunsHostCommands: SUPPORTED,
    };
  }

  async serverMajor(): Promise<number | undefined> {
    return majorOf(this.binaries.versionText);
  }

  timescaleVersions(): Promise<string[]> {
    return timescaleVersions(this.binaries.binDir);
  }

  tool(name: string): string {
    return join(this.binaries.binDir, name);
  }

  get workRoot(): string {
    return this.options.workRoot ?? tmpdir();
  }

  /** A new folder on a tmpfs of `bytes`, owned by the server's user. */
  async mountTmpfs(path: string, bytes: number): Promise<void> {
    if (this.noMount) throw new UnsupportedError(this.noMount);
    await mkdir(path, { mode: 0o700 });
    const owner = this.runAs ? `,uid=${this.runAs.uid},gid=${this.runAs.gid}` : '';
    await mountTmpfs(path, `size=${bytes},mode=0700${owner}`, this.ctx);
  }

  /**
   * An empty cluster once per run, which each instance copies (≈0.3 s instead of ≈1 s): a copy of the one
   * in the seed cache, given this run's password, or initdb's, then filed there for the next runs.
   */
  private template(): Promise<string> {
    this.templateDir ??= (async () => {
      const dir = await makeWorkDir(this.workRoot, this.options.runId, 'template', this.runAs);
      try {
        const key = createHash('sha256').update(JSON.stringify([VERSION, CLUSTER_ACCESS, this.binaries.binDir, this.binaries.versionText, this.runAs?.uid])).digest('hex').slice(0, 16);
        const cached = await cachedEmptyCluster(key);
        if (cached) {
          await runCommand('cp', ['-a', '--reflink=auto', cached, join(dir, 'data')], { ...this.ctx, runAs: undefined }, { timeoutMs: TOOL_TIMEOUT_MS });
          await this.takeOver(join(dir, 'data'));
        } else {
          await this.initTemplate(dir);
          await fileEmptyCluster(key, join(dir, 'data'), this.ctx);
        }
      } catch (error) {
        // A template that did not finish is of no use to anyone: it goes, or no cleanup would find it.
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
      return dir;
    })();
    return this.templateDir;
  }

  private async initTemplate(dir: string): Promise<void> {
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
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-instructions',
      ],
      this.ctx,
      { timeoutMs: 120_000 },
    );
    await rm(pwfile);
  }

  async startInstance(name: string, logDir: string, options: InstanceOptions = {}): Promise<NativeInstance> {
    const dir = await makeWorkDir(this.workRoot, this.options.runId, name, this.runAs);
    const instance = new NativeInstance(this, name, dir, logDir, { host: '127.0.0.1', port: 0, user: SUPERUSER, password: this.password });
    let needed: Settings | void = undefined;
    try {
      if (options.prepareData) {
        await mkdir(instance.dataDir, { mode: 0o700 });
        await handOver(instance.dataDir, this.runAs);
        needed = await options.prepareData(instance.dataDir);
      } else {
        // A cached cluster sits in the harness user's cache folder, where the server's user may not reach: the harness copies it, owners kept.
        // The template is made when an instance first copies it: a drill that starts from the seed cache
        // needs none until a recovery starts an empty instance, whose time to recover then includes it.
        const source = options.cluster ?? join(await this.template(), 'data');
        const copier = options.cluster ? { ...this.ctx, runAs: undefined } : this.ctx;
        if (options.dataVolumeBytes) {
          await this.mountTmpfs(instance.dataDir, options.dataVolumeBytes);
          await runCommand('cp', ['-a', '--reflink=auto', `${source}/.`, instance.dataDir], copier, { timeoutMs: TOOL_TIMEOUT_MS });
        } else {
          await runCommand('cp', ['-a', '--reflink=auto', source, instance.dataDir], copier, { timeoutMs: TOOL_TIMEOUT_MS });
        }
      }
      for (const sub of ['sock', 'backups', 'archive']) {
        await mkdir(join(dir, sub), { mode: 0o700 });
        await handOver(join(dir, sub), this.runAs);
      }
      await instance.configure({
        ...(this.timescaleLibrary ? { shared_preload_libraries: 'timescaledb', 'timescaledb.telemetry_level': 'off' } : {}),
        ...(options.walArchive ? archiveSettings(instance.archiveDir, options.walArchive.timeoutMs, await options.walArchive.command?.(instance)) : {}),
        ...options.settings,
        ...needed,
      });
      // A cached cluster has the password of the run that built it: the superuser gets this run's over
      // the socket once the server answers there, instead of in a single-user server of its own (0.12 s).
      await instance.start(options.cluster ? superuserPasswordStatement(this.password) : undefined);
    } catch (error) {
      // A server that would not start keeps its files for a look, unless it failed because the run is stopping.
      await instance.destroy({ keepFiles: !closingDown() });
      throw error;
    }
    return instance;
  }

  /**
   * The cached empty cluster was made by another engine, with another
   * password: in single-user mode (no server yet, and no connection) the
   * superuser gets this engine's, on stdin, never on a command line.
   */
  private async takeOver(dataDir: string): Promise<void> {
    await runCommand(this.tool('postgres'), ['--single', '-D', dataDir, 'postgres'], this.ctx, { input: `${superuserPasswordStatement(this.password)}\n`, timeoutMs: 120_000 });
  }

  // Any instance can start from a copy: even a size-limited data folder is filled before the server starts.
  seededCluster(key: string, day: string, logDir: string, seed: (instance: Instance) => Promise<Record<string, unknown>>): Promise<SeededCluster | undefined> {
    return cachedOrSeeded({ key: `${key}-${CLUSTER_ACCESS}`, day }, () => this.startInstance('seed-cache', logDir), seed, this.ctx);
  }

  async dispose(): Promise<void> {
    this.unregister();
    if (this.templateDir) {
      const dir = await this.templateDir.catch(() => undefined);
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }
}
