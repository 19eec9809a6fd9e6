/**
 * Is a backup fit to restore? Each method names its chain of checks,
 * cheapest first; the first that fails names what caught the damage. Never
 * throws: a damaged backup is an observation, judged in checks/.
 */
import { access } from 'node:fs/promises';
import type { Instance } from '../engines/types.js';
import { errorMessage } from '../errors.js';
import type { BackupArtifact } from '../model/artifact.js';
import type { IntegrityReport, IntegrityStep } from '../model/observations.js';
import { backupMethod } from './index.js';

export async function verifyArtifact(instance: Instance, backup: BackupArtifact): Promise<IntegrityReport> {
  const steps: IntegrityStep[] = [];
  try {
    // A repository in object storage is checked by its own tools below; a local one must still be there.
    if (!backup.path.startsWith('s3://')) await access(backup.path);
  } catch {
    return { path: backup.path, ok: false, steps: [{ check: 'exists', ok: false, detail: 'the artifact is gone' }], caughtBy: 'exists' };
  }
  for (const step of backupMethod(backup.method).integrityChain(backup, instance, await instance.canRunBesideServer())) {
    try {
      steps.push({ check: step.check, ok: true, detail: await step.run() });
    } catch (error) {
      steps.push({ check: step.check, ok: false, detail: errorMessage(error) });
      return { path: backup.path, ok: false, steps, caughtBy: step.check };
    }
  }
  return { path: backup.path, ok: true, steps };
}
