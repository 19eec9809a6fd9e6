/**
 * The one small interface every backup method, fault, recovery and check uses
 * to reach a database instance, whatever engine started it.
 */
import pg from 'pg';
import type { CommandOptions, CommandResult } from '../exec/command.js';
import type { Capabilities } from './engine.js';

export type EngineKind = 'native' | 'docker';

export interface ConnectionInfo {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface ServerInfo {
  /** server_version, e.g. "15.18 (Debian 15.18-0+deb12u1)". */
  version: string;
  major: number;
  /** Version of the timescaledb extension the server preloads and can create, or null. */
  timescaledb: string | null;
}

/** The PostgreSQL client tools the harness runs against an instance. */
export type PgTool = 'pg_dump' | 'pg_restore' | 'psql' | 'pg_amcheck' | 'pg_isready' | 'pg_basebackup' | 'pg_verifybackup' | 'pg_waldump' | 'pg_checksums';

export interface Instance {
  readonly kind: EngineKind;
  readonly name: string;
  readonly connection: ConnectionInfo;
  /** A folder the instance's tools write backups into and the harness reads. */
  readonly backupDir: string;
  /** Where archive_command puts WAL segments; it outlives the data folder. */
  readonly archiveDir: string;
  /** The data folder as the harness sees it, when it is on the host (always native; a restored container's). */
  readonly dataDir?: string;
  readonly capabilities: Capabilities;
  /** Runs a client tool against this instance with PG* connection variables set. */
  runTool(tool: PgTool, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /** Runs a host command (tar, pgbackrest) as the server's OS user, recorded in the journal. */
  runHost(file: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /**
   * Runs a command beside the server (on the host for native, in the container
   * for docker), as its OS user, with the PG* connection variables set.
   */
  exec(file: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /** Whether the server process (or container) is up. */
  running(): Promise<boolean>;
  /** Whether exec can still run: a lost container cannot. */
  canExec(): Promise<boolean>;
  /**
   * A new folder the server's tools can write to, on a filesystem of `bytes`
   * (a tmpfs), to fill up on purpose. `release` unmounts and removes it.
   */
  sizeLimitedFolder(name: string, bytes: number): Promise<{ path: string; release: () => Promise<void> }>;
  /**
   * Lets a standby on another instance of the same engine stream from this one,
   * and says where that standby reaches it (a container's bridge address, or loopback).
   */
  replicationSource(): Promise<{ host: string; port: number }>;
  /** The last lines of the server's log: evidence of what it said, never a readiness signal. */
  logTail(lines?: number): Promise<string>;
  /** The machine is gone: the server dies mid-write and its data folder with it. Backups and archives remain. */
  lose(): Promise<void>;
  /** The binary and version that runTool uses for a tool, for the journal. */
  toolVersion(tool: PgTool): Promise<string>;
  connect(database?: string): Promise<pg.Client>;
  serverInfo(): Promise<ServerInfo>;
  stop(): Promise<void>;
  /** Starts the server again on the same data (crash recovery after a kill) and waits until it answers. */
  start(): Promise<void>;
  /** SIGKILL of the postmaster, as a crash would; only when capabilities.kill is supported. */
  kill(): Promise<void>;
  /** Waits until the server has left recovery (promoted) and accepts writes. */
  waitPromoted(timeoutMs: number): Promise<void>;
  /** Stops the server, keeps its log, removes its files unless `keepFiles`. Never throws. */
  destroy(options: { keepFiles: boolean }): Promise<{ keptAt?: string }>;
}

/**
 * Session settings that make row text reproducible across instances, so
 * content fingerprints (hashes of each row's text form) compare equal.
 */
const STABLE_SESSION = '-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=1 -c IntervalStyle=postgres';

export async function connectTo(info: ConnectionInfo, database: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database,
    options: STABLE_SESSION,
    connectionTimeoutMillis: 10_000,
    application_name: 'restore-drill',
  });
  // A server killed or a database dropped under an open client emits 'error'; it is
  // reported by the query that fails, so an unhandled event must not crash the harness.
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Connects, reads the server's facts, and closes: the same for every engine. */
export async function serverInfoOf(info: ConnectionInfo): Promise<ServerInfo> {
  const client = await connectTo(info, 'postgres');
  try {
    return await readServerInfo(client);
  } finally {
    await client.end();
  }
}

async function readServerInfo(client: pg.Client): Promise<ServerInfo> {
  const { rows } = await client.query<{ version: string; num: string; tsdb: string | null }>(
    `select current_setting('server_version') as version,
            current_setting('server_version_num') as num,
            case when current_setting('shared_preload_libraries') ~ 'timescaledb'
                 then (select default_version from pg_available_extensions where name = 'timescaledb') end as tsdb`,
  );
  const row = rows[0]!;
  return { version: row.version, major: Math.floor(Number(row.num) / 10000), timescaledb: row.tsdb };
}
