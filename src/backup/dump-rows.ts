/**
 * How many rows a dump holds per table, read from the dump itself: its data
 * as COPY blocks (`pg_restore --data-only -f -`, or the plain SQL gunzipped),
 * streamed through awk so no dump is ever held in memory. Without a seeded
 * baseline (a backup made elsewhere) this is what a restore's row counts
 * must equal: a restore that brought the schema but not the data cannot pass.
 */
import type { Instance } from '../engines/types.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import type { BackupArtifact } from '../model/artifact.js';

const COUNT_COPY_ROWS = `set -o pipefail
case "$1" in
  *.sql.gz) gunzip -c "$1" ;;
  *) pg_restore --data-only --file=- "$1" ;;
esac | awk '
  /^COPY / && !inside { table = $2; rows = 0; inside = 1; next }
  inside && $0 == "\\\\." { print table "\\t" rows; inside = 0; next }
  inside { rows++ }'`;

/** Rows per table as the dump's COPY blocks hold them (tables named as pg_dump writes them: schema.table). */
export async function dumpRowCounts(instance: Instance, backup: BackupArtifact, env: Record<string, string>): Promise<Map<string, number>> {
  const result = await instance.runOnHost('bash', ['-c', COUNT_COPY_ROWS, 'bash', backup.path], { env, timeoutMs: TOOL_TIMEOUT_MS });
  const counts = new Map<string, number>();
  for (const line of result.stdout.split('\n')) {
    const [table, rows] = line.split('\t');
    if (table && rows !== undefined) counts.set(table, (counts.get(table) ?? 0) + Number(rows));
  }
  return counts;
}
