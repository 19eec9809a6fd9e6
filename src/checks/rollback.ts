/**
 * The rollback of a failed recovery (the spark-trading runbook's "If Recovery
 * Fails"): the data folder set aside before the restore is put back. The
 * rolled-back instance must equal what it was before the restore, every
 * database, table, row and definition; what cannot be read is unknown.
 */
import type { DatabaseState } from '../model/snapshot.js';
import type { CheckResult } from '../model/verdict.js';
import type { ClusterState } from './snapshot.js';

/** What a comparison looks at: content and definitions, not the label or when it was read. */
function comparable(state: DatabaseState): string {
  return JSON.stringify({ unreachable: state.unreachable, tables: state.tables, objects: state.objects, timescale: state.timescale });
}

export function judgeRollback(before: ClusterState, after: ClusterState, why: string): CheckResult {
  const name = 'rollback';
  if ('unreachable' in before) return { name, verdict: 'unknown', summary: `rolled back (${why}), but the instance could not be read before the restore (${before.unreachable}): nothing to compare with`, evidence: {} };
  if ('unreachable' in after) return { name, verdict: 'fail', summary: `rolled back (${why}), but the instance does not answer: ${after.unreachable}`, evidence: {} };
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const differing = names.filter((db) => !before[db] || !after[db] || comparable(before[db]) !== comparable(after[db]));
  const tables = Object.values(before).reduce((n, s) => n + Object.keys(s.tables).length, 0);
  return {
    name,
    verdict: differing.length ? 'fail' : 'pass',
    summary: differing.length
      ? `rolled back (${why}), but ${differing.map((db) => (!after[db] ? `${db} is missing` : !before[db] ? `${db} is new` : `${db} differs`)).join(', ')} against the pre-restore state`
      : `rolled back (${why}): the instance equals its pre-restore state, ${names.length} databases and ${tables} tables, every row and definition`,
    evidence: { databases: names, differing },
  };
}
