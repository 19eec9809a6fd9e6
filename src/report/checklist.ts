/**
 * The runbooks' monthly drill checklist, ticked from the journal and never by
 * hand. A box is ticked only when every check it rests on ran and passed; a
 * box that is not ticked says why; an item that does not apply to the drill
 * (no WAL archive, no TimescaleDB) says so instead of showing a box.
 */
import type { DrillJournal } from '../model/journal.js';
import type { CheckResult } from '../model/verdict.js';

export interface ChecklistItem {
  item: string;
  state: 'ticked' | 'unticked' | 'not-applicable';
  /** What the tick rests on, or why there is none. */
  why: string;
  /** The checks the item rests on: a ticked item's all passed. */
  checks: string[];
}

interface Rule {
  item: string;
  /** The checks the item rests on; at least one must have run, and every one that ran must have passed. */
  checks: string[];
  /** When the item does not apply to this drill, why. */
  notApplicable?: (drill: DrillJournal) => string | undefined;
  /** Facts beside the checks that must also hold (a recovery that ran, a clean server log). */
  extra?: (drill: DrillJournal) => { ok: boolean; why: string } | undefined;
}

function recoveryRan(drill: DrillJournal): { ok: boolean; why: string } {
  const phase = drill.phases.find((p) => p.name === 'recovery');
  const recovery = drill.recovery;
  if (!phase || !recovery) return { ok: false, why: 'no recovery ran' };
  if ('error' in recovery) return { ok: false, why: `the ${recovery.procedure} procedure failed: ${recovery.error}` };
  // `none` is a drill that shows the damage as it stands: nothing was restored.
  if (recovery.procedure === 'none') return { ok: false, why: 'recovery procedure none: nothing was restored' };
  if (phase.status !== 'ok') return { ok: false, why: `the recovery phase ${phase.status}` };
  return { ok: true, why: `the ${recovery.procedure} procedure completed` };
}

function cleanLogs(drill: DrillJournal): { ok: boolean; why: string } {
  if (!drill.logErrors) return { ok: false, why: 'no server log was read after a recovery' };
  if (drill.logErrors.length) return { ok: false, why: `the servers logged ${drill.logErrors.slice(0, 2).join(' / ')}` };
  return { ok: true, why: 'no ERROR, FATAL or PANIC in the server logs after recovery' };
}

/** The runbook's "Redis restore completed" and its kin: every part back, equal to its backup. */
function partsBack(drill: DrillJournal): { ok: boolean; why: string } {
  const parts = drill.parts ?? [];
  const notBack = parts.flatMap((part) =>
    [`${part.name}: recovery`, `${part.name}: content`].flatMap((name) => {
      const found = drill.checks.find((c) => c.name === name);
      return found?.verdict === 'pass' ? [] : [`${name} ${found ? (found.verdict === 'fail' ? 'failed' : 'could not decide') : 'did not run'}`];
    }),
  );
  if (notBack.length) return { ok: false, why: notBack.join('; ') };
  return { ok: true, why: `${parts.map((p) => `${p.name} (${p.kind})`).join(', ')} restored and equal to their backups` };
}

const RULES: Rule[] = [
  {
    item: 'Backup accessible and intact',
    checks: ['backup', 'backup-integrity'],
    notApplicable: (d) => (d.backup || d.checks.some((c) => c.name === 'backup' || c.name === 'backup-integrity') ? undefined : 'no backup was taken'),
  },
  { item: 'Restore completed', checks: ['recovery'], extra: recoveryRan },
  // Where no seeded baseline exists (a backup made elsewhere), the source's fingerprint (every definition, count and row)
  // and the dump's own row counts evidence these.
  { item: 'Tables present', checks: ['schema', 'source-fingerprint'] },
  { item: 'Row counts match', checks: ['row-counts', 'source-fingerprint', 'dump-row-counts'] },
  { item: 'Indexes and constraints present', checks: ['schema', 'source-fingerprint'] },
  { item: 'Data queries work', checks: ['fingerprint', 'source-fingerprint'] },
  {
    item: 'Restore equals the source at the backup (its fingerprint), every table and row',
    checks: ['source-fingerprint'],
    notApplicable: (d) => (d.checks.some((c) => c.name === 'source-fingerprint') ? undefined : 'no fingerprint came with the backup'),
  },
  {
    item: 'TimescaleDB hypertables, chunks and jobs back',
    checks: ['timescaledb'],
    notApplicable: (d) => (d.checks.some((c) => c.name === 'timescaledb') ? undefined : 'no TimescaleDB in this drill'),
  },
  {
    item: 'Redis, configuration and secrets restored',
    checks: [],
    extra: partsBack,
    notApplicable: (d) => (d.parts?.length ? undefined : 'no other part of the system in this drill'),
  },
  { item: 'No errors in logs', checks: [], extra: cleanLogs },
  { item: 'RTO within target', checks: ['rto'] },
  { item: 'RPO within target', checks: ['rpo'] },
  {
    item: 'Whole system within RTO and RPO',
    checks: ['system: rto', 'system: rpo'],
    notApplicable: (d) => (d.parts?.length ? undefined : 'no other part of the system in this drill'),
  },
  {
    item: 'WAL archive continuous',
    checks: ['wal-archive'],
    notApplicable: (d) => (d.backup?.wal || d.checks.some((c) => c.name === 'wal-archive') ? undefined : 'no WAL archive in this drill'),
  },
];

/** Checks that did not pass, by name and verdict, for the reason of an unticked box. */
function notPassing(found: readonly CheckResult[]): string {
  return found
    .filter((c) => c.verdict !== 'pass')
    .map((c) => `${c.name} ${c.verdict === 'fail' ? 'failed' : 'could not decide'}: ${c.summary}`)
    .join('; ');
}

/**
 * `backup` and `recovery` are checks only when the backup or the procedure
 * failed: their absence is no evidence either way, so an item resting on them
 * needs another check (backup-integrity) or what the recovery recorded.
 */
const EVIDENCE_OPTIONAL = new Set(['backup', 'recovery']);

export function checklist(drill: DrillJournal): ChecklistItem[] {
  return RULES.map((rule) => {
    const notApplicable = rule.notApplicable?.(drill);
    if (notApplicable) return { item: rule.item, state: 'not-applicable', why: notApplicable, checks: rule.checks };
    const found = drill.checks.filter((c) => rule.checks.includes(c.name));
    const extra = rule.extra?.(drill);
    const failing = notPassing(found);
    const unticked = (why: string): ChecklistItem => ({ item: rule.item, state: 'unticked', why, checks: rule.checks });
    if (failing) return unticked(failing);
    if (extra && !extra.ok) return unticked(extra.why);
    const needsCheck = rule.checks.some((name) => !EVIDENCE_OPTIONAL.has(name));
    if (needsCheck && found.length === 0) return unticked(`not evidenced: no ${rule.checks.filter((n) => !EVIDENCE_OPTIONAL.has(n)).join(' or ')} check ran`);
    // The check's own words are in the Checks table; the box names what it rests on.
    const why = extra?.why ?? `${found.map((c) => c.name).join(' and ')} passed`;
    return { item: rule.item, state: 'ticked', why, checks: rule.checks };
  });
}
