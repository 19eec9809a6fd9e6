/**
 * Content checks: the recovered database against the state captured at the
 * backup. Each returns a verdict with its evidence and names what differs.
 */
import { errorMessage } from '../errors.js';
import type { DatabaseState, TableState } from '../model/snapshot.js';
import type { CheckResult } from '../model/verdict.js';

export const CONTENT_CHECKS = ['schema', 'row-counts', 'fingerprint', 'freshness'] as const;
export type ContentCheckName = (typeof CONTENT_CHECKS)[number];

type Check = (baseline: DatabaseState, recovered: DatabaseState) => CheckResult;

function readable(state: TableState | { error: string } | undefined): TableState | undefined {
  return state && !('error' in state) ? state : undefined;
}

function unreachable(name: string, recovered: DatabaseState): CheckResult | undefined {
  if (!recovered.unreachable) return undefined;
  return {
    name,
    verdict: 'fail',
    summary: `database "${recovered.database}" cannot be read: ${recovered.unreachable}`,
    evidence: { database: recovered.database, error: recovered.unreachable },
  };
}

/** Compares one number-like property per table and names the tables that differ. */
function perTable(
  name: string,
  what: string,
  pick: (t: TableState) => string | number | null | undefined,
): Check {
  return (baseline, recovered) => {
    const failed = unreachable(name, recovered);
    if (failed) return failed;
    const tables: Record<string, { expected: unknown; found: unknown }> = {};
    const mismatched: string[] = [];
    for (const [table, expectedState] of Object.entries(baseline.tables)) {
      const expected = readable(expectedState);
      if (!expected || pick(expected) === undefined) continue;
      const found = recovered.tables[table];
      const foundValue = readable(found) ? pick(readable(found)!) : `unreadable: ${(found as { error?: string })?.error ?? 'not captured'}`;
      tables[table] = { expected: pick(expected), found: foundValue };
      if (foundValue !== pick(expected)) mismatched.push(table);
    }
    return {
      name,
      verdict: mismatched.length ? 'fail' : 'pass',
      summary: mismatched.length
        ? `${what} differs from ${baseline.label} in ${mismatched.join(', ')}`
        : `${what} matches ${baseline.label} in all ${Object.keys(tables).length} tables`,
      evidence: { mismatched, tables },
    };
  };
}

const schema: Check = (baseline, recovered) => {
  const failed = unreachable('schema', recovered);
  if (failed) return failed;
  const missing = (kind: 'tables' | 'indexes' | 'constraints') => {
    const present = new Set(recovered.objects[kind]);
    return baseline.objects[kind].filter((name) => !present.has(name));
  };
  const missingSequences = Object.keys(baseline.objects.sequences).filter((s) => !(s in recovered.objects.sequences));
  const behind = Object.entries(recovered.objects.sequences)
    .filter(([, s]) => s.maxValue !== null && s.lastValue < s.maxValue)
    .map(([name, s]) => `${name} at ${s.lastValue} < max(${s.table}.${s.column}) ${s.maxValue}`);
  // Every object by its definition: the same name is not the same object.
  const found = recovered.objects.definitions;
  const changedDefinitions: string[] = [];
  const missingObjects: string[] = [];
  const gone = new Set(missing('tables'));
  for (const [key, definition] of Object.entries(baseline.objects.definitions)) {
    const now = found[key];
    if (now !== undefined) {
      if (now !== definition) changedDefinitions.push(`${key}: ${definition} → ${now}`);
      continue;
    }
    // Missing indexes and constraints are named above, and so is everything of a missing table.
    const table = key.split(' ')[1]?.split('.')[0] ?? '';
    if (!/^(index|constraint) /.test(key) && !gone.has(table)) missingObjects.push(key);
  }
  const problems = {
    missingTables: missing('tables'),
    missingIndexes: missing('indexes'),
    missingConstraints: missing('constraints'),
    missingSequences,
    sequencesBehind: behind,
    missingObjects,
    changedDefinitions,
  };
  const lines = Object.entries(problems)
    .filter(([, list]) => list.length > 0)
    .map(([kind, list]) => `${kind}: ${list.join(', ')}`);
  return {
    name: 'schema',
    verdict: lines.length ? 'fail' : 'pass',
    summary: lines.length
      ? lines.join('; ')
      : `all ${baseline.objects.tables.length} tables, ${baseline.objects.indexes.length} indexes, ` +
        `${baseline.objects.constraints.length} constraints and ${Object.keys(baseline.objects.sequences).length} sequences present; ` +
        `${Object.keys(baseline.objects.definitions).length} definitions (columns, indexes, constraints, sequences, views, triggers, functions, extensions, owners, grants) unchanged; no sequence behind its column`,
    evidence: { ...problems, expected: baseline.objects, found: recovered.objects },
  };
};

const CHECKS: Record<ContentCheckName, Check> = {
  schema,
  'row-counts': perTable('row-counts', 'row count', (t) => t.rows),
  fingerprint: perTable('fingerprint', 'content fingerprint', (t) => t.fingerprint),
  freshness: perTable('freshness', 'latest timestamp', (t) => t.latest),
};

/** Runs the named checks; a check that throws gives `unknown` with the error, never a crash. */
export function runContentChecks(
  names: readonly ContentCheckName[],
  baseline: DatabaseState,
  recovered: DatabaseState,
): CheckResult[] {
  return names.map((name) => {
    try {
      return CHECKS[name](baseline, recovered);
    } catch (error) {
      return { name, verdict: 'unknown', summary: `check crashed: ${errorMessage(error)}`, evidence: {} };
    }
  });
}
