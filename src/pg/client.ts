/**
 * Talking to a PostgreSQL server: connections with reproducible session
 * settings, a client that always closes, the server's facts, and identifier
 * quoting. Knows nothing of engines or drills.
 */
import pg from 'pg';

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

export type Client = pg.Client;

/**
 * Session settings that make row text reproducible across instances, so
 * content fingerprints (which hash some columns' and rows' text form) compare
 * equal: times, intervals, floats, bytea and money print alike everywhere.
 */
const STABLE_SESSION = '-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=1 -c IntervalStyle=postgres -c bytea_output=hex -c lc_monetary=C';

export function connectTo(info: ConnectionInfo, database: string): Promise<pg.Client> {
  return open({ host: info.host, port: info.port, user: info.user, password: info.password, database, application_name: 'restore-drill' });
}

/**
 * A connection the way libpq tools make one: a connection string or URL when
 * given, else the PG* environment (PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGDATABASE), in the same stable session as the harness's own.
 */
export function connectLikeLibpq(connectionString: string | undefined): Promise<pg.Client> {
  return open({ ...(connectionString ? { connectionString } : {}), application_name: 'restore-drill fingerprint' });
}

async function open(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client({ ...config, options: STABLE_SESSION, connectionTimeoutMillis: 10_000 });
  // A server killed or a database dropped under an open client emits 'error'; it is
  // reported by the query that fails, so an unhandled event must not crash the harness.
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Connects, runs `work`, and closes the connection whatever happened. */
export async function withClient<T>(connect: () => Promise<pg.Client>, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
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

/** Connects, reads the server's facts, and closes. */
export function serverInfoOf(info: ConnectionInfo): Promise<ServerInfo> {
  return withClient(() => connectTo(info, 'postgres'), readServerInfo);
}
