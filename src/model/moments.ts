/**
 * Moments a recovery aims at. A bad write is preceded by a recorded recovery
 * target (time, LSN, xid and a named restore point), and by the workload's
 * first sequence number written after it: every ledger row before it must
 * come back, none after it.
 */
import { z } from 'zod';

/** Where a point-in-time recovery stops: the end of the archive, or just before the bad write by one of its marks. */

export const RECOVERY_TARGET_KINDS = ['time', 'lsn', 'xid', 'name', 'end'] as const;
export type RecoveryTargetKind = (typeof RECOVERY_TARGET_KINDS)[number];

export const recoveryMarkerSchema = z.strictObject({
  time: z.string(),
  lsn: z.string(),
  xid: z.string(),
  name: z.string(),
  firstSeqAfter: z.number().describe('The first ledger sequence number written after the mark.'),
});
/** The marks recorded just before a bad write. */
export type RecoveryMarker = z.output<typeof recoveryMarkerSchema>;
