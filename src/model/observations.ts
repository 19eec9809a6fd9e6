/**
 * What faults and recovery procedures saw on their way, reported to the
 * drill as observations. Only checks/ turns an observation into a verdict:
 * the nemesis and the cure report, the checker judges.
 */

/** One step of a backup's integrity chain (a checksum, `pg_restore --list`, pg_verifybackup, ...). */
export interface IntegrityStep {
  check: string;
  ok: boolean;
  detail: string;
}

/** One backup's integrity chain, run until a step failed. */
export interface IntegrityReport {
  path: string;
  ok: boolean;
  steps: IntegrityStep[];
  /** The check that found the damage, when one did. */
  caughtBy?: string;
}

/** Whether one detector noticed a corrupt page, and what it said. */
export interface Detection {
  caught: boolean;
  said: string;
}

export type Observation =
  /** The backups tried, newest first, until one passed its chain (the last report is the one used when it passed). */
  | { kind: 'backup-integrity'; reports: IntegrityReport[] }
  /** recovery.verify: false: the newest backup was restored without its checks. */
  | { kind: 'backup-unchecked'; used: string }
  /** Before replay: the segments missing from the WAL archive after the base backup's end. */
  | { kind: 'wal-archive'; backupEndSegment: string; lastArchived?: string; checked: number; missing: string[] }
  /** A corrupt page and the detectors that did or did not catch it. */
  | { kind: 'corruption-detectors'; table: string; block: number; file: string; detectors: Record<string, Detection> };
