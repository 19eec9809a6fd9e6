/**
 * Server settings as a model: names and plain values, rendered by each engine
 * for its medium (postgresql.conf lines on the native engine, `-c` flags for a
 * container), so no value is quoted for one medium and unquoted for another.
 * Also the settings PostgreSQL's own features need: WAL archiving, and
 * stopping replay at a recovery target.
 */
import type { RecoveryTargetKind } from '../model/moments.js';

export type Settings = Record<string, string | number>;

/** postgresql.conf lines: every value quoted, as the file allows for any setting. */
export function confLines(settings: Settings): string {
  return Object.entries(settings)
    .map(([name, value]) => `${name} = '${String(value).replace(/'/g, "''")}'`)
    .join('\n');
}

/** `postgres -c name=value` flags. */
export function commandLineFlags(settings: Settings): string[] {
  return Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
}

/**
 * Archives every WAL segment into `archiveDir` (or with `command`, e.g.
 * pgBackRest's archive-push) from the server's first start. TAP's
 * Cluster::enable_archiving lives on the cluster for the same reason: it is a
 * property of the server, not of the backup taken later.
 */
export function archiveSettings(archiveDir: string, archiveTimeoutMs: number, command?: string): Settings {
  return {
    wal_level: 'replica',
    archive_mode: 'on',
    // Never overwrite a segment already archived: a second copy hides the first's loss.
    archive_command: command ?? `test ! -f ${archiveDir}/%f && cp %p ${archiveDir}/%f`,
    archive_timeout: `${Math.max(1, Math.round(archiveTimeoutMs / 1000))}s`,
    max_wal_senders: 10,
  };
}

/** The settings that stop replay at the target and promote; none for the end of the archive. */
export function recoveryTargetSettings(kind: RecoveryTargetKind, stopAt: string | undefined): Settings {
  if (kind === 'end' || stopAt === undefined) return {};
  switch (kind) {
    case 'time':
      return { recovery_target_time: stopAt };
    case 'lsn':
      return { recovery_target_lsn: stopAt };
    case 'xid':
      // Stop just before the bad transaction commits.
      return { recovery_target_xid: stopAt, recovery_target_inclusive: 'off' };
    case 'name':
      return { recovery_target_name: stopAt };
  }
}

/**
 * The settings a server replaying another's WAL must have at least as high as
 * the source (PostgreSQL refuses to go on, or to allow hot standby reads,
 * below them), plus TimescaleDB's background workers where it is loaded.
 */
const REPLAY_FLOOR = ['max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction', 'timescaledb.max_background_workers'];

export async function settingsReplayNeeds(client: { query: <R>(text: string, values?: unknown[]) => Promise<{ rows: R[] }> }): Promise<Record<string, number>> {
  const { rows } = await client.query<{ name: string; setting: string }>('select name, setting from pg_settings where name = any($1)', [REPLAY_FLOOR]);
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.setting)]));
}
