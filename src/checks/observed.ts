/**
 * Verdicts on what faults and recovery procedures observed on their way:
 * which backup passed its integrity chain, whether the WAL archive is
 * continuous, whether a corrupt page was caught. Faults and procedures only
 * report; these functions judge.
 */
import type { Observation } from '../model/observations.js';
import type { CheckResult } from '../model/verdict.js';

/** What a failed check said, in one line: the tool's last word, not the command line. */
function complaint(detail: string): string {
  return detail.split('\n').filter((line) => line.trim()).at(-1) ?? detail;
}

function backupIntegrity(observation: Extract<Observation, { kind: 'backup-integrity' }>): CheckResult {
  const { reports } = observation;
  const used = reports.find((r) => r.ok);
  const rejected = reports.filter((r) => !r.ok);
  const caught = rejected.map((r) => `${r.path} ${used ? 'is damaged, ' : ''}caught by ${r.caughtBy} (${complaint(r.steps.at(-1)!.detail)})`);
  if (!used) {
    return { name: 'backup-integrity', verdict: 'fail', summary: `no backup passed its checks: ${caught.join('; ')}`, evidence: { reports } };
  }
  return {
    name: 'backup-integrity',
    verdict: 'pass',
    summary: rejected.length
      ? `${caught.join('; ')}; restored from the previous good backup ${used.path}`
      : `${used.path} passed ${used.steps.map((s) => s.check).join(', ')}`,
    evidence: { used: used.path, reports },
  };
}

function walArchive(observation: Extract<Observation, { kind: 'wal-archive' }>): CheckResult {
  const { backupEndSegment: from, missing, lastArchived, checked } = observation;
  return {
    name: 'wal-archive',
    verdict: missing.length ? 'fail' : 'pass',
    summary: missing.length
      ? `archive has a gap: ${missing.join(', ')} missing after the base backup (ended in ${from}); replay cannot pass it`
      : `archive continuous from ${from} to ${lastArchived ?? from} (${checked} segments after the base backup)`,
    evidence: { backupEndSegment: from, lastArchived, missing },
  };
}

function corruptionDetected(observation: Extract<Observation, { kind: 'corruption-detectors' }>): CheckResult {
  const { table, block, file, detectors } = observation;
  const missed = Object.entries(detectors)
    .filter(([, d]) => !d.caught)
    .map(([name]) => name);
  return {
    name: 'corruption-detected',
    verdict: missed.length ? 'fail' : 'pass',
    summary: missed.length
      ? `the corrupt page (block ${block} of ${table}) went unnoticed by ${missed.join(', ')}`
      : `block ${block} of ${table} caught by ${Object.keys(detectors).join(', ')}: ${detectors['read']?.said ?? ''}`,
    evidence: { file, block, detectors },
  };
}

export function judge(observation: Observation): CheckResult {
  switch (observation.kind) {
    case 'backup-integrity':
      return backupIntegrity(observation);
    case 'backup-unchecked':
      return {
        name: 'backup-integrity',
        verdict: 'unknown',
        summary: `not checked (recovery.verify: false): the newest backup ${observation.used} was restored as it is`,
        evidence: { used: observation.used },
      };
    case 'wal-archive':
      return walArchive(observation);
    case 'corruption-detectors':
      return corruptionDetected(observation);
  }
}

/** A backup that fails is the finding a gate on backup scripts exists for, not a crash of the drill. */
export function backupFailed(error: string): CheckResult {
  return { name: 'backup', verdict: 'fail', summary: `the backup failed: ${error.split('\n')[0]}`, evidence: { error } };
}

/** A recovery procedure that failed fails the drill, even if the data happens to look right. */
export function recoveryFailed(procedure: string, error: string): CheckResult {
  return { name: 'recovery', verdict: 'fail', summary: `the ${procedure} procedure failed: ${error.split('\n')[0]}`, evidence: { error } };
}
