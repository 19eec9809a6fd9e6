/**
 * Is a backup fit to restore? Each kind of artifact has its chain of checks,
 * cheapest first, and the first that fails names what caught the damage:
 *  - pg_dump custom: the .sha256 sidecar, `pg_restore --list` (the table of contents), then a
 *    full read with `pg_restore --file=/dev/null` (--list never reads the data);
 *  - pg_dump plain.gz: the sidecar, then `gzip -t`;
 *  - pg_basebackup: SHA256SUMS, then pg_verifybackup against the manifest (where it can still run);
 *  - pgBackRest: `pgbackrest verify` and the recorded manifests' digests.
 */
import { access } from 'node:fs/promises';
import type { Instance } from '../engines/instance.js';
import { errorMessage } from '../errors.js';
import type { BackupArtifact } from './artifact.js';
import { checkBaseBackup, verifyBaseBackup } from './basebackup.js';
import { verifySidecar } from './checksum.js';
import { checkRepository } from './pgbackrest.js';

export interface IntegrityStep {
  check: string;
  ok: boolean;
  detail: string;
}

export interface IntegrityReport {
  path: string;
  ok: boolean;
  steps: IntegrityStep[];
  /** The check that found the damage, when one did. */
  caughtBy?: string;
}

type Step = { check: string; run: () => Promise<string> };

function chain(instance: Instance, backup: BackupArtifact, canExec: boolean): Step[] {
  switch (backup.method) {
    case 'pg_dump':
    case 'script': {
      // A team's script may not write a sidecar; then the format's own checks stand alone.
      const sidecar: Step[] =
        backup.method === 'script' && !backup.sidecar ? [] : [{ check: 'sha256 sidecar', run: async () => `matches ${await verifySidecar(backup.path)}` }];
      return backup.format === 'plain.gz'
        ? [...sidecar, { check: 'gzip -t', run: async () => ((await instance.exec('gzip', ['-t', backup.path])).stderr.trim() || 'gzip stream intact') }]
        : [
            ...sidecar,
            {
              check: 'pg_restore --list',
              run: async () => `${(await instance.runTool('pg_restore', ['--list', backup.path])).stdout.split('\n').filter((l) => /^\d+;/.test(l)).length} archive entries readable`,
            },
            { check: 'pg_restore --file=/dev/null', run: async () => ((await instance.runTool('pg_restore', ['--file=/dev/null', backup.path])), 'every entry read and decompressed') },
          ];
    }
    case 'pg_basebackup':
      return [
        { check: 'SHA256SUMS', run: async () => (await checkBaseBackup(backup), `${backup.files.length} files match`) },
        // It runs beside the server; after a lost container there is nowhere left to run it.
        ...(canExec ? [{ check: 'pg_verifybackup', run: () => verifyBaseBackup(instance, backup.path) }] : []),
      ];
    case 'pgbackrest':
      return [{ check: 'pgbackrest verify', run: async () => (await checkRepository(instance, backup), 'repository and manifests verified') }];
    case 'standby':
      return [];
  }
}

/** Runs the artifact's chain until a check fails; never throws. */
export async function verifyArtifact(instance: Instance, backup: BackupArtifact): Promise<IntegrityReport> {
  const steps: IntegrityStep[] = [];
  try {
    await access(backup.path);
  } catch {
    return { path: backup.path, ok: false, steps: [{ check: 'exists', ok: false, detail: 'the artifact is gone' }], caughtBy: 'exists' };
  }
  for (const step of chain(instance, backup, await instance.canExec())) {
    try {
      steps.push({ check: step.check, ok: true, detail: await step.run() });
    } catch (error) {
      steps.push({ check: step.check, ok: false, detail: errorMessage(error) });
      return { path: backup.path, ok: false, steps, caughtBy: step.check };
    }
  }
  return { path: backup.path, ok: true, steps };
}
