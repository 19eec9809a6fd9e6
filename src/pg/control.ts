/**
 * What a cluster's pg_control says: the limits a server replaying its WAL
 * must honour (the source's, which a hot standby or a replaying server must
 * match or exceed, or replay stops: "insufficient parameter settings"), and
 * which WAL segments a cleanly stopped cluster still needs.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** pg_control's names of the settings replay needs at least, and the settings' own names. */
const CONTROL_SETTINGS: Record<string, string> = {
  'max_connections setting': 'max_connections',
  'max_worker_processes setting': 'max_worker_processes',
  'max_wal_senders setting': 'max_wal_senders',
  'max_prepared_xacts setting': 'max_prepared_transactions',
  'max_locks_per_xact setting': 'max_locks_per_transaction',
};

/** The replay floor from pg_controldata's output: setting → the source's value. */
export function replayFloor(controlData: string): Record<string, number> {
  const settings: Record<string, number> = {};
  for (const line of controlData.split('\n')) {
    const [label, value] = line.split(/:\s+/);
    const name = label ? CONTROL_SETTINGS[label.trim()] : undefined;
    if (name && value) settings[name] = Number(value.trim());
  }
  return settings;
}

/** pg_control's DBState for a cluster whose server stopped cleanly. */
const DB_SHUTDOWNED = 1;

/**
 * The WAL segments of a cleanly stopped cluster that hold nothing it needs:
 * those beyond its last checkpoint's segment and the one after it (which the
 * checkpoint record may run into). They are recycled segments renamed ahead
 * for writes to come; after a bulk load they are most of the cluster (a
 * gigabyte at `medium`). None for a cluster that did not stop cleanly.
 *
 * Read from pg_control itself, since pg_controldata may not be on the host
 * (a Docker engine's cluster): its leading fields (system identifier, two
 * versions, the state, a time, the last checkpoint's location, then that
 * checkpoint with its timeline) have kept their places in every release
 * since 9.x.
 */
export async function spareWalSegments(dataDir: string): Promise<string[]> {
  const control = await readFile(join(dataDir, 'global', 'pg_control'));
  if (control.readInt32LE(16) !== DB_SHUTDOWNED) return [];
  const checkpoint = control.readBigUInt64LE(32);
  const timeline = control.readUInt32LE(48).toString(16).toUpperCase().padStart(8, '0');
  const walDir = join(dataDir, 'pg_wal');
  const segments = (await readdir(walDir)).filter((name) => /^[0-9A-F]{24}$/.test(name) && name.startsWith(timeline));
  if (segments.length === 0) return [];
  const segmentBytes = BigInt((await stat(join(walDir, segments[0]!))).size);
  const perLogId = 0x1_0000_0000n / segmentBytes;
  const numberOf = (name: string) => BigInt(`0x${name.slice(8, 16)}`) * perLogId + BigInt(`0x${name.slice(16)}`);
  const lastNeeded = checkpoint / segmentBytes + 1n;
  return segments.filter((name) => numberOf(name) > lastNeeded);
}
