/**
 * What pg_controldata says about a cluster that a server replaying its WAL
 * must honour: the source's limits, which a hot standby or a replaying server
 * must match or exceed, or replay stops ("insufficient parameter settings").
 */

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
