/**
 * What every engine offers the drill: instances started for it, a
 * description for the journal, and cleanup. An Instance is the one interface
 * every backup method, fault, recovery and check uses to reach a database,
 * whatever engine started it. What not every instance can do is optional: a
 * member present only where the engine supports it, and a capability the
 * engine states, with why not, before any instance starts.
 */
import type { Client, ConnectionInfo, ServerInfo } from '../pg/client.js';
import type { Settings } from '../pg/conf.js';
import type { PgTool } from '../pg/versions.js';
import type { CommandOptions, CommandResult } from '../exec/command.js';
import type { CommandRecord, EngineRecord } from '../model/journal.js';

export const ENGINE_KINDS = ['native', 'docker'] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];
/** The Docker engine's networks for the servers' containers (docker/network.ts). */
export const NETWORK_CHOICES = ['auto', 'host', 'bridge'] as const;
export type NetworkChoice = (typeof NETWORK_CHOICES)[number];

/** What a drill may need of an instance beyond the basics, each with what it is for. */
export const CAPABILITIES = {
  kill: 'SIGKILL of the postmaster, then a start that runs crash recovery',
  sizeLimitedVolume: 'a data folder on a filesystem of a fixed size, so it can fill up',
  standby: 'a hot standby cloned from the instance and streaming from it',
  pgbackrest: 'pgBackRest beside the server: archive-push, backup, restore',
  hostDataFiles: "the server's data files reachable from the harness, to damage a page on disk",
  sizeLimitedFolder: 'a new folder of a fixed size the server can write to, to fill a backup destination',
  serverRunsHostCommands: "the server runs the team's archive_command and restore_command from the host's folders",
} as const;
export type CapabilityName = keyof typeof CAPABILITIES;

export type Capability = { supported: true } | { supported: false; why: string };
export type Capabilities = Record<CapabilityName, Capability>;

export const SUPPORTED: Capability = { supported: true };

export function unsupported(why: string): Capability {
  return { supported: false, why };
}

export interface InstanceOptions {
  /** Extra server settings (plain values; each engine renders them for its medium). */
  settings?: Settings;
  /** Put the data folder on a filesystem of this many bytes. */
  dataVolumeBytes?: number;
  /**
   * Fill the new, empty data folder instead of copying a fresh cluster into it
   * (a restored base backup, a standby cloned from a primary). Runs as the
   * server's user; the instance's own settings (port, socket) are added after.
   * It may return settings the data it wrote needs (read from it: a restored
   * cluster's replay floor), which win over `settings`.
   */
  prepareData?: (dataDir: string) => Promise<Settings | void>;
  /** More host folders the server must reach at the same path (another instance's WAL archive). */
  mounts?: string[];
  /**
   * Archive every WAL segment from the instance's first start: into its
   * archive folder with cp, or with the command `command` prepares (pgBackRest).
   */
  walArchive?: { timeoutMs: number; command?: (instance: Instance) => Promise<string> };
  /**
   * The drill will ask for size-limited folders (capability sizeLimitedFolder).
   * An engine whose mounts are fixed once the server runs (docker) prepares
   * for them at the start; the others ignore it.
   */
  sizeLimitedFolders?: boolean;
  /**
   * Start from a copy of this cleanly stopped cluster of the same binaries (a
   * seed cache entry) instead of a fresh one; its superuser password becomes
   * the engine's. Only engines with `seededCluster`.
   */
  cluster?: string;
}

/** A seeded cluster an engine keeps across runs; `facts` is what its seed reported. */
export interface SeededCluster {
  key: string;
  dataDir: string;
  builtAt: string;
  facts: Record<string, unknown>;
  /** Built by this call (the seed ran now), or found from an earlier drill or run. */
  builtNow: boolean;
}

/** The server as a command that runs beside it (runBesideServer, runServerTool) reaches it. */
export interface ServerSide {
  /** The data folder there (pgBackRest's pg1-path). */
  readonly dataDir: string;
  /** The folder of the server's Unix socket there. */
  readonly socketDir: string;
  /** The port the server listens on there. */
  readonly port: number;
}

export interface ServerToolOptions extends CommandOptions {
  /** More host folders the command must reach at their host paths (a new data folder to restore into). */
  folders?: readonly string[];
}

/** A folder on a filesystem of a fixed size, and how to take it away. */
export interface SizeLimitedFolder {
  path: string;
  release: () => Promise<void>;
}

export interface Instance {
  readonly kind: EngineKind;
  readonly name: string;
  readonly connection: ConnectionInfo;
  /** A folder the instance's tools write backups into and the harness reads. */
  readonly backupDir: string;
  /** Where archive_command puts WAL segments; it outlives the data folder. */
  readonly archiveDir: string;
  /** The data folder as the harness sees it, when it is on the host (native always; docker unless it is a tmpfs, engine.dataVolume). */
  readonly dataDir?: string;
  connect(database?: string): Promise<Client>;
  serverInfo(): Promise<ServerInfo>;
  /** Runs a PostgreSQL client tool against this instance, with the PG* connection variables set. */
  runPgTool(tool: PgTool, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /** Runs a command where the server runs (the host for native, inside the container for docker), as its OS user, with PG* set. */
  runBesideServer(file: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /** The server's data folder, socket and port as seen from beside it. */
  readonly serverSide: ServerSide;
  /**
   * Runs a program installed with the server (pgBackRest), as the server's OS
   * user, on the instance's folders (backups, WAL archive, data) at their host
   * paths, and on `folders`: on the host for native; for docker, beside the
   * server while its container runs and has the folders, otherwise in a
   * short-lived container of the same image (a stopped or lost container
   * cannot exec).
   */
  runServerTool(file: string, args: readonly string[], options?: ServerToolOptions): Promise<CommandResult>;
  /** Runs a command on the harness's host (tar, a team script), as the user that owns the instance's host folders. */
  runOnHost(file: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /** Whether commands can still run beside the server: a lost container cannot. */
  canRunBesideServer(): Promise<boolean>;
  /** Whether the server process (or container) is up. */
  running(): Promise<boolean>;
  /** The binary and version runPgTool uses for a tool, for the journal. */
  toolVersion(tool: PgTool): Promise<string>;
  stop(): Promise<void>;
  /** Starts the server again on the same data (crash recovery after a kill) and waits until it answers. */
  start(): Promise<void>;
  /** Waits until the server has left recovery (promoted) and accepts writes. */
  waitPromoted(timeoutMs: number): Promise<void>;
  /** The last lines of the server's log: evidence of what it said, never a readiness signal. */
  logTail(lines?: number): Promise<string>;
  /** The machine is gone: the server dies mid-write and its data folder with it. Backups and archives remain. */
  lose(): Promise<void>;
  /** Stops the server, keeps its log, removes its files unless `keepFiles`. Never throws. */
  destroy(options: { keepFiles: boolean }): Promise<{ keptAt?: string }>;
  /** SIGKILL of the postmaster, as a crash would (capability kill). */
  readonly kill?: () => Promise<void>;
  /** A new folder of `bytes` the server's tools can write to, to fill up on purpose (capability sizeLimitedFolder). */
  readonly sizeLimitedFolder?: (name: string, bytes: number) => Promise<SizeLimitedFolder>;
  /**
   * Lets a standby on another instance of the same engine stream from this one,
   * and says where that standby reaches it (capability standby).
   */
  readonly replicationSource?: () => Promise<{ host: string; port: number }>;
}

/** What a drill gives an engine: the run it belongs to and where its commands are recorded. */
export interface EngineOptions {
  runId: string;
  /** Every command the engine and its instances run, for the journal. */
  record?: (record: CommandRecord) => void;
  /** Parent of the temp folders (default: the OS temp folder). */
  workRoot?: string;
}

export interface Engine {
  readonly kind: EngineKind;
  /** The host's PostgreSQL client binaries the harness uses, put first on a team script's PATH. */
  readonly clientBinDir?: string;
  /** Values the engine knows to be secret (the instances' password), redacted wherever they would be written. */
  readonly secrets: readonly string[];
  /** Engine facts for the journal: binaries or image, versions. */
  describe(): EngineRecord;
  /** What an instance started with these options will be able to undergo, known before it starts. */
  capabilities(options?: InstanceOptions): Capabilities;
  /** The PostgreSQL major its instances run, known before one starts (undefined when it cannot tell). */
  serverMajor(): Promise<number | undefined>;
  /** The TimescaleDB versions its instances can run, where the engine can tell without starting one. */
  timescaleVersions?(): Promise<string[]>;
  startInstance(name: string, logDir: string, options?: InstanceOptions): Promise<Instance>;
  /**
   * The seeded cluster for `key`: found in the engine's cache, or built now by
   * running `seed` on a new instance, which is then stopped and filed. Absent
   * where the engine keeps no cache (every drill seeds afresh); resolves to
   * undefined when the cache is turned off, or when an instance started with
   * `forInstance` could not start from a copy.
   */
  seededCluster?(
    key: string,
    day: string,
    logDir: string,
    seed: (instance: Instance) => Promise<Record<string, unknown>>,
    forInstance: InstanceOptions,
  ): Promise<SeededCluster | undefined>;
  dispose(): Promise<void>;
}
