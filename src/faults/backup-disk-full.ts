/**
 * Tonight's backup runs into a full destination: pg_dump fails loudly, and
 * what it left half-written lies among the backups, with no sidecar, exactly
 * as a careless script would leave it. It must never pass for a good backup.
 * Then the database is lost.
 */
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { stampedName } from '../backup/naming.js';
import { FaultError, InternalError } from '../errors.js';
import type { ArtifactOf } from '../model/artifact.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { defineFault } from './fault.js';
import { dropDatabase } from './incidents.js';

const detail = z.strictObject({ partial: z.string(), partialBytes: z.number(), error: z.string(), database: z.string() });

declare module '../model/journal.js' {
  interface FaultDetails {
    'backup-disk-full': z.output<typeof detail>;
  }
}

export const backupDiskFull = defineFault({
  type: 'backup-disk-full',
  summary: "tonight's dump runs out of space and is left half-written among the backups; then the database is lost",
  schema: z.strictObject({ type: z.literal('backup-disk-full') }),
  detail,
  requires: { capabilities: ['sizeLimitedFolder'], backupFeatures: ['harness-dump'] },
  harm: () => 'database-lost',
  label: () => 'backup-disk-full',
  inject: async ({ instance, database, backups }) => {
    if (!instance.sizeLimitedFolder) throw new InternalError('backup-disk-full on an instance without size-limited folders; it should have been refused at setup');
    // Half of what the last backup needed: tonight's cannot fit.
    const bytes = Math.max(64 * 1024, Math.floor(backups.at(-1)!.sizeBytes / 2));
    const folder = await instance.sizeLimitedFolder('tonight', bytes);
    const path = join(folder.path, stampedName(database, 'dump'));
    const result = await instance.runPgTool('pg_dump', ['--format=custom', `--file=${path}`, `--dbname=${database}`], { allowFailure: true, timeoutMs: TOOL_TIMEOUT_MS });
    if (!result.failed) {
      await folder.release();
      throw new FaultError(`backup-disk-full: pg_dump fitted in a ${bytes}-byte destination; the fault needs a larger database (a larger dataset.scale)`);
    }
    const size = await stat(path).then(
      (s) => s.size,
      () => 0,
    );
    const error = result.stderr.trim();
    const partial: ArtifactOf<'pg_dump'> = {
      method: 'pg_dump',
      format: 'custom',
      path,
      sidecar: '',
      files: [{ name: basename(path), sizeBytes: size, sha256: '' }],
      sizeBytes: size,
      sha256: '',
      tool: await instance.toolVersion('pg_dump'),
      detail: { database, partial: { exitCode: result.exitCode, destinationBytes: bytes } },
    };
    const incident = await dropDatabase(instance, database);
    return {
      summary: `tonight's backup ran out of space (${size} bytes written): ${error.split('\n')[0]}; then ${incident.summary}`,
      at: incident.at,
      detail: { partial: path, partialBytes: size, error, database },
      addedBackups: [partial],
      heal: folder.release,
    };
  },
});
