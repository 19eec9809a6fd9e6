/**
 * "If corrupted, use the previous backup": the newest backup that passes its
 * integrity chain, newest first. What each chain found is observed (and
 * judged as the backup-integrity check); with verify: false the newest is
 * used unchecked, to show what that costs.
 */
import { verifyArtifact } from '../backup/integrity.js';
import { BackupIntegrityError } from '../errors.js';
import type { BackupArtifact } from '../model/artifact.js';
import type { IntegrityReport } from '../model/observations.js';
import type { RecoveryContext } from './procedure.js';

export async function chooseBackup(ctx: Pick<RecoveryContext, 'instance' | 'backups' | 'observe'>, verify: boolean): Promise<BackupArtifact> {
  const newestFirst = [...ctx.backups].reverse();
  if (!verify) {
    ctx.observe({ kind: 'backup-unchecked', used: newestFirst[0]!.path });
    return newestFirst[0]!;
  }
  const reports: IntegrityReport[] = [];
  for (const backup of newestFirst) {
    const report = await verifyArtifact(ctx.instance, backup);
    reports.push(report);
    if (report.ok) {
      ctx.observe({ kind: 'backup-integrity', reports });
      return backup;
    }
  }
  ctx.observe({ kind: 'backup-integrity', reports });
  throw new BackupIntegrityError(`no usable backup: every one of the ${reports.length} backups failed its integrity checks`);
}
