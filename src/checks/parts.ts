/**
 * Verdicts on the parts of a whole system beside the database (Redis,
 * configuration files, secrets): each part's recovery, content, data loss
 * and RTO, then the whole system's RTO (the fault to the last part verified)
 * and its worst loss. The part modules only report; these functions judge.
 */
import type { Measurement, RpoMeasurement } from '../model/journal.js';
import type { PartRecord, PartState, PartWrites } from '../model/parts.js';
import { combine, type CheckResult, type Verdict } from '../model/verdict.js';
import { formatDuration } from '../support/units.js';

export interface Targets {
  rto: number;
  rpo: number;
}

function recoveryCheck(part: PartRecord): CheckResult {
  const name = `${part.name}: recovery`;
  const recovery = part.recovery;
  if (!recovery) return { name, verdict: 'fail', summary: 'no recovery ran', evidence: {} };
  const rejected = recovery.integrity.filter((step) => !step.ok);
  const caught = rejected.map((step) => `${step.check} caught damage (${step.detail.split('\n').filter((l) => l.trim()).at(-1) ?? step.detail})`);
  if (!recovery.ok) {
    return { name, verdict: 'fail', summary: [`the ${part.kind} recovery failed: ${recovery.error ?? 'no reason given'}`, ...caught].join('; '), evidence: { ...recovery } };
  }
  // No backup used: the part came back on its own files (a restart after a crash).
  const used = recovery.usedBackup ? `restored from ${recovery.usedBackup}` : 'restarted on its own files, no backup needed';
  const repaired = recovery.repair ? `; ${recovery.repair.tool} repaired it: ${recovery.repair.detail}` : '';
  return { name, verdict: 'pass', summary: [...caught, `${used}${repaired}`].join('; '), evidence: { ...recovery } };
}

/** Items whose hash differs, is missing or is extra, named (a few) where both states recorded them. */
function differences(expected: PartState, found: PartState): string {
  if (!expected.perItem || !found.perItem) return '';
  const names = new Set([...Object.keys(expected.perItem), ...Object.keys(found.perItem)]);
  const differing = [...names].filter((n) => expected.perItem![n] !== found.perItem![n]).sort();
  const named = differing.slice(0, 5).map((n) => (!(n in found.perItem!) ? `${n} missing` : !(n in expected.perItem!) ? `${n} extra` : `${n} differs`));
  return named.length ? `: ${named.join(', ')}${differing.length > 5 ? ` and ${differing.length - 5} more` : ''}` : '';
}

function contentCheck(part: PartRecord): CheckResult {
  const name = `${part.name}: content`;
  const { expected, found } = part;
  if (!expected) return { name, verdict: 'unknown', summary: 'no state was recorded at the backup: nothing to compare with', evidence: {} };
  if (!found) return { name, verdict: part.recovery?.ok ? 'unknown' : 'fail', summary: 'the recovered state was not read', evidence: { expected } };
  if ('unreachable' in found) {
    // A part whose recovery failed is not back; one that said it recovered but cannot be read is unproven.
    return { name, verdict: part.recovery?.ok ? 'unknown' : 'fail', summary: `could not be read after recovery: ${found.unreachable}`, evidence: { expected, found } };
  }
  const same = found.fingerprint === expected.fingerprint && found.items === expected.items;
  return {
    name,
    verdict: same ? 'pass' : 'fail',
    summary: same
      ? `${found.items} items equal the state at the backup, name, content${part.kind === 'redis' ? '' : ', mode and owner'} (fingerprint ${found.fingerprint.slice(0, 12)})`
      : `${found.items} items found, ${expected.items} at the backup, fingerprints differ${differences(expected, found)}`,
    evidence: { expected: { items: expected.items, fingerprint: expected.fingerprint }, found: { items: found.items, fingerprint: found.fingerprint } },
  };
}

/** Nothing the writer wrote came back: the loss reaches back before the drill, its window unbounded. */
function lostEverything(writes: PartWrites): boolean {
  return writes.acknowledged > 0 && writes.recovered === 0;
}

/** The part's writes against what came back; a part without a writer (a file set) has no writes to lose and no check. */
function rpoCheck(part: PartRecord, targetMs: number): CheckResult | undefined {
  const name = `${part.name}: rpo`;
  const { writes } = part;
  if (!writes) return undefined;
  if ('unread' in writes) return { name, verdict: 'unknown', summary: `data loss could not be measured: ${writes.unread}`, evidence: { targetMs } };
  const total = lostEverything(writes);
  const pass = !total && writes.lossMs <= targetMs;
  return {
    name,
    verdict: pass ? 'pass' : 'fail',
    summary: total
      ? `all ${writes.acknowledged} acknowledged writes lost: the loss reaches back before the drill began; target ${formatDuration(targetMs)}`
      : `${writes.lost} of ${writes.acknowledged} acknowledged writes lost (${formatDuration(writes.lossMs)} of writes; ${writes.afterBackup} came after the backup used); target ${formatDuration(targetMs)}`,
    evidence: { ...writes, targetMs },
  };
}

/** RTO is the time to a verified part: a failed verification is no recovery, an unknown one leaves it unproven. */
function rtoCheck(part: PartRecord, verification: Verdict, elapsedMs: number, targetMs: number): CheckResult {
  const name = `${part.name}: rto`;
  if (verification === 'fail') return { name, verdict: 'fail', summary: `not recovered: no verification passed (target ${formatDuration(targetMs)})`, evidence: { targetMs } };
  const own = part.durationMs === undefined ? '' : ` (its own restore and check ${formatDuration(part.durationMs)})`;
  if (verification === 'unknown') {
    return { name, verdict: 'unknown', summary: `restored ${formatDuration(elapsedMs)} after the fault${own}, but not proven back: recovery unproven`, evidence: { unverifiedMs: elapsedMs, targetMs } };
  }
  return {
    name,
    verdict: elapsedMs <= targetMs ? 'pass' : 'fail',
    summary: `back and verified ${formatDuration(elapsedMs)} after the fault${own}; target ${formatDuration(targetMs)}`,
    evidence: { measuredMs: elapsedMs, durationMs: part.durationMs, targetMs },
  };
}

/**
 * One part's checks, against its own targets (or the whole system's), `elapsedMs`
 * after the fault; its RTO is measured only when its verification passed.
 */
export function judgePart(part: PartRecord, targets: Targets, elapsedMs: number): { checks: CheckResult[]; rtoMs?: number } {
  const verification = [recoveryCheck(part), contentCheck(part)];
  const verdict = combine(verification.map((c) => c.verdict));
  const rpo = rpoCheck(part, targets.rpo);
  return { checks: [...verification, ...(rpo ? [rpo] : []), rtoCheck(part, verdict, elapsedMs, targets.rto)], ...(verdict === 'pass' ? { rtoMs: elapsedMs } : {}) };
}

/**
 * The whole system: RTO from the fault to the last part verified (the
 * database first), the worst loss of any part. Any part not back fails the
 * whole; any part unproven leaves it unknown.
 */
export function judgeSystem(database: { rto?: Measurement; rpo?: RpoMeasurement; checks: readonly CheckResult[] }, parts: readonly PartRecord[], targets: Targets): CheckResult[] {
  const verdictOf = (name: string) => database.checks.find((c) => c.name === name)?.verdict ?? 'unknown';
  const rtos = [{ part: 'database', verdict: verdictOf('rto'), ms: database.rto?.measuredMs }, ...parts.map((p) => ({ part: p.name, verdict: verdictOf(`${p.name}: rto`), ms: p.rtoMs }))];
  // A part is back when its RTO was measured; without a measurement it failed (not recovered) or is unproven.
  const notRecovered = rtos.filter((r) => r.ms === undefined && r.verdict === 'fail').map((r) => r.part);
  const unproven = rtos.filter((r) => r.ms === undefined && r.verdict !== 'fail').map((r) => r.part);
  const notBack = [...notRecovered, ...unproven];
  const slowest = Math.max(...rtos.map((r) => r.ms ?? 0));
  const each = rtos.map((r) => `${r.part} ${r.ms === undefined ? 'not back' : formatDuration(r.ms)}`).join(', ');
  const rtoVerdict: Verdict = notRecovered.length ? 'fail' : unproven.length ? 'unknown' : slowest <= targets.rto ? 'pass' : 'fail';
  const rto: CheckResult = {
    name: 'system: rto',
    verdict: rtoVerdict,
    summary: notBack.length
      ? `the whole system is not back: ${[...notRecovered.map((p) => `${p} not recovered`), ...unproven.map((p) => `${p} unproven`)].join(', ')} (${each}); target ${formatDuration(targets.rto)}`
      : `the whole system back and verified ${formatDuration(slowest)} after the fault (${each}); target ${formatDuration(targets.rto)}`,
    evidence: { parts: rtos, targetMs: targets.rto },
  };
  const losses = [
    { part: 'database', ms: database.rpo?.measuredMs, total: database.rpo?.total === true },
    ...parts.flatMap(({ name, writes }) => (writes ? [{ part: name, ...('unread' in writes ? { ms: undefined, total: false } : { ms: writes.lossMs, total: lostEverything(writes) }) }] : [])),
  ];
  const unmeasured = losses.filter((l) => l.ms === undefined).map((l) => l.part);
  const total = losses.filter((l) => l.total).map((l) => l.part);
  const worst = losses.reduce((a, b) => ((b.ms ?? 0) > (a.ms ?? 0) ? b : a));
  // The database's window is its loss only if what came back is this drill's data, replayed no further than asked.
  const notOurs = [
    ...(database.rpo?.foreignRows ? [`${database.rpo.foreignRows} ledger rows of another run or drill came back to the database: what was restored is not this drill's data`] : []),
    ...(database.rpo?.pastTargetRows ? [`the database's replay went past its recovery target (${database.rpo.pastTargetRows} rows written after it came back)`] : []),
  ];
  const rpoVerdict: Verdict = total.length || notOurs.length ? 'fail' : unmeasured.length ? 'unknown' : (worst.ms ?? 0) <= targets.rpo ? 'pass' : 'fail';
  const rpo: CheckResult = {
    name: 'system: rpo',
    verdict: rpoVerdict,
    summary: total.length
      ? `${total.join(', ')} lost everything written in the drill; target ${formatDuration(targets.rpo)}`
      : notOurs.length
        ? `the loss cannot be read as a window: ${notOurs.join('; ')}; target ${formatDuration(targets.rpo)}`
        : unmeasured.length
          ? `the loss of ${unmeasured.join(', ')} could not be measured; target ${formatDuration(targets.rpo)}`
          : `the worst loss is ${worst.part}'s, ${formatDuration(worst.ms ?? 0)} of writes (${losses.map((l) => `${l.part} ${formatDuration(l.ms ?? 0)}`).join(', ')}); target ${formatDuration(targets.rpo)}`,
    evidence: { parts: losses, targetMs: targets.rpo },
  };
  return [rto, rpo];
}
