/**
 * RTO and RPO, measured and compared with the drill's targets. RTO runs on a
 * monotonic clock from the fault to the first passing verification. RPO is
 * counted from the workload's own log of acknowledged commits against the
 * ledger rows the recovered database holds; it is never copied from a target.
 */
import type { Measurement, RpoMeasurement } from '../model/journal.js';
import type { CheckResult, Verdict } from '../model/verdict.js';
import type { Instant } from '../support/clock.js';
import { formatDuration, formatTarget } from '../support/units.js';
import { WRITTEN_TABLES, type Commit, type LedgerContents, type WrittenTable } from '../workload/ledger.js';

export interface Loss {
  committedRows: number;
  recoveredRows: number;
  lostRows: number;
  unexpectedRows: number;
  firstLostSeq?: number;
  lastRecoveredSeq?: number;
  /** From the first lost commit to the fault: the window of writes that is gone. */
  lossMs: number;
  /** With a recovery target: rows committed after it, which a correct recovery leaves out. */
  afterTargetRows?: number;
  /** Rows after the target that came back anyway: the recovery went past its target. */
  pastTargetRows?: number;
  /** Ledger rows of another run or drill in the restored database, and who wrote them: data that is not this drill's. */
  foreignRows: number;
  foreignWriters: string[];
  /** The business rows the workload wrote (and saw acknowledged) per table, and how many are gone. */
  tables: Record<WrittenTable, { written: number; lost: number }>;
}

/**
 * Counts the workload's acknowledged commits against the ledger rows the
 * recovered database holds. With a recovery target (the first sequence
 * number written after it), only the commits before it are expected back.
 */
export function measureLoss(commits: readonly Commit[], ledger: LedgerContents, fault: Instant, firstSeqAfterTarget?: number): Loss {
  const recovered = ledger.own;
  const present = new Set(recovered);
  const acknowledged = new Set(commits.map((c) => c.seq));
  const expected = firstSeqAfterTarget === undefined ? commits : commits.filter((c) => c.seq < firstSeqAfterTarget);
  const afterTarget = firstSeqAfterTarget === undefined ? [] : commits.filter((c) => c.seq >= firstSeqAfterTarget);
  const lost = expected.filter((c) => !present.has(c.seq));
  const survivors = expected.filter((c) => present.has(c.seq));
  // A commit is lost when any of its rows is: its ledger row, or the order or trade written with it.
  const tables = {} as Loss['tables'];
  let firstLost = lost[0];
  for (const table of Object.keys(WRITTEN_TABLES) as WrittenTable[]) {
    const back = new Set(ledger.written[table]);
    const gone = expected.filter((c) => !back.has(c.keys[table]));
    tables[table] = { written: expected.length, lost: gone.length };
    // The earliest acknowledged of them: with several writers, sequence order is not commit order.
    if (gone[0] && (!firstLost || gone[0].at.mono < firstLost.at.mono)) firstLost = gone[0];
  }
  return {
    committedRows: expected.length,
    recoveredRows: survivors.length,
    lostRows: lost.length,
    unexpectedRows: recovered.filter((seq) => !acknowledged.has(seq)).length,
    firstLostSeq: firstLost?.seq,
    lastRecoveredSeq: survivors.at(-1)?.seq,
    lossMs: firstLost ? Math.max(0, fault.mono - firstLost.at.mono) : 0,
    ...(firstSeqAfterTarget === undefined
      ? {}
      : { afterTargetRows: afterTarget.length, pastTargetRows: afterTarget.filter((c) => present.has(c.seq)).length }),
    foreignRows: ledger.foreignRows,
    foreignWriters: ledger.foreignWriters,
    tables,
  };
}

export function rpoCheck(targetMs: number, loss: Loss | { error: string }): { check: CheckResult; rpo: RpoMeasurement } {
  if ('error' in loss) {
    return {
      check: { name: 'rpo', verdict: 'unknown', summary: `data loss could not be measured: ${loss.error}`, evidence: {} },
      rpo: { targetMs },
    };
  }
  // Nothing the workload wrote came back: the loss reaches back before the drill
  // began, so it is unbounded, whatever the window the ledger can see.
  const unbounded = loss.committedRows > 0 && loss.recoveredRows === 0;
  const pastTarget = (loss.pastTargetRows ?? 0) > 0;
  // Another run's or drill's rows in this drill's database: whatever was restored is not this drill's data.
  const foreign = loss.foreignRows > 0;
  const pass = !unbounded && !pastTarget && !foreign && loss.lossMs <= targetMs;
  const rpo: RpoMeasurement = {
    targetMs,
    measuredMs: loss.lossMs,
    ...(unbounded ? { total: true } : {}),
    lostRows: loss.lostRows,
    committedRows: loss.committedRows,
    recoveredRows: loss.recoveredRows,
    unexpectedRows: loss.unexpectedRows,
    ...(loss.afterTargetRows === undefined ? {} : { afterTargetRows: loss.afterTargetRows, pastTargetRows: loss.pastTargetRows }),
    ...(foreign ? { foreignRows: loss.foreignRows } : {}),
    tables: loss.tables,
  };
  return {
    check: {
      name: 'rpo',
      verdict: pass ? 'pass' : 'fail',
      summary:
        (unbounded
          ? `all ${loss.committedRows} committed ledger rows lost: none of this drill's writes came back, the loss reaches back before the drill began; target ${formatTarget(targetMs)}`
          : `${loss.lostRows} of ${loss.committedRows} committed ledger rows lost` +
            // With the ledger whole, the window is the business tables' (below).
            `${loss.lostRows > 0 || loss.lossMs === 0 ? ` (${formatDuration(loss.lossMs)} of writes)` : ''}; target ${formatTarget(targetMs)}`) +
        (loss.afterTargetRows === undefined
          ? ''
          : pastTarget
            ? `; ${loss.pastTargetRows} of ${loss.afterTargetRows} rows written after the recovery target came back: replay went past the target`
            : `; the ${loss.afterTargetRows} rows written after the recovery target are absent, as they must be`) +
        (Object.values(loss.tables).some((t) => t.lost > 0)
          ? `; of the rows the workload wrote to the business tables, ${Object.entries(loss.tables)
              .map(([table, t]) => `${table} ${t.lost} of ${t.written}`)
              .join(', ')} lost${loss.lostRows === 0 ? ` (${formatDuration(loss.lossMs)} of writes)` : ''}`
          : '') +
        (foreign
          ? `; ${loss.foreignRows} ledger rows of another run or drill came back (${loss.foreignWriters.join(', ')}): what was restored is not this drill's data (a stale or foreign backup)`
          : ''),
      evidence: { ...loss, unbounded, targetMs },
    },
    rpo,
  };
}

/**
 * RTO is the time to a verified recovery: a verification that failed means
 * no recovery (fail); one that could not tell (an unknown check, no fail)
 * leaves the RTO unproven (unknown), however fast the restore was.
 */
export function rtoCheck(targetMs: number, fault: Instant, verified: Instant, verification: Verdict): { check: CheckResult; rto: Measurement } {
  if (verification === 'fail') {
    return {
      check: {
        name: 'rto',
        verdict: 'fail',
        summary: `not recovered: no verification passed (target ${formatDuration(targetMs)})`,
        evidence: { targetMs },
      },
      rto: { targetMs },
    };
  }
  const measuredMs = verified.mono - fault.mono;
  if (verification === 'unknown') {
    return {
      check: {
        name: 'rto',
        verdict: 'unknown',
        summary: `restored and checked ${formatDuration(measuredMs)} after the fault, but not every check could tell whether the data came back: recovery unproven (target ${formatDuration(targetMs)})`,
        evidence: { unverifiedMs: measuredMs, targetMs, faultAt: fault.wall, verifiedAt: verified.wall },
      },
      rto: { targetMs },
    };
  }
  return {
    check: {
      name: 'rto',
      verdict: measuredMs <= targetMs ? 'pass' : 'fail',
      summary: `recovered and verified ${formatDuration(measuredMs)} after the fault; target ${formatDuration(targetMs)}`,
      evidence: { measuredMs, targetMs, faultAt: fault.wall, verifiedAt: verified.wall },
    },
    rto: { targetMs, measuredMs },
  };
}

/**
 * A backup made elsewhere: no writes were lost in the drill, but losing
 * production now loses everything written since the backup. Its age, from
 * when it was written to now, is the data loss it stands for; beyond the RPO
 * target the backups are too old (a backup job that stopped shows here).
 */
export function backupAgeCheck(targetMs: number, written: { at: string; by: string } | undefined, at: Date): { check: CheckResult; rpo: RpoMeasurement } {
  if (!written) {
    return { check: { name: 'rpo', verdict: 'unknown', summary: 'the backup does not say when it was written: its age, the data a loss would cost, is unknown', evidence: { targetMs } }, rpo: { targetMs } };
  }
  const ageMs = at.getTime() - Date.parse(written.at);
  const pass = ageMs <= targetMs;
  return {
    check: {
      name: 'rpo',
      verdict: pass ? 'pass' : 'fail',
      summary: `the backup was written ${formatDuration(ageMs)} ago (${written.at}, ${written.by}): losing production now loses up to that; target ${formatDuration(targetMs)}`,
      evidence: { ageMs, targetMs, writtenAt: written.at, writtenBy: written.by },
    },
    rpo: { targetMs, measuredMs: ageMs },
  };
}
