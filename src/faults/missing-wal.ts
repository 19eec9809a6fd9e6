/**
 * A segment written after the base backup disappears from the archive (moved
 * aside, so it can be put back), the workload writes on, then the instance is
 * lost: recovery from the archive can only replay up to the gap.
 */
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FaultError } from '../errors.js';
import { withClient } from '../pg/client.js';
import { archivedSegments, switchAndWaitArchived } from '../pg/wal.js';
import { now, sleep } from '../support/clock.js';
import { duration } from '../support/fields.js';
import { defineFault } from './fault.js';
import { loseInstance } from './incidents.js';

const detail = z.strictObject({
  missingSegment: z.string(),
  movedTo: z.string(),
  backupEndSegment: z.string(),
  lastClosedSegment: z.string(),
  archivedAfterBackup: z.number(),
  removedAt: z.string(),
  instance: z.string(),
});

declare module '../model/journal.js' {
  interface FaultDetails {
    'missing-wal': z.output<typeof detail>;
  }
}

export const missingWal = defineFault({
  type: 'missing-wal',
  summary: 'a WAL segment written after the base backup vanishes from the archive; later the instance is lost',
  schema: z.strictObject({
    type: z.literal('missing-wal'),
    writeAfterGap: duration.prefault('2s').describe('How long the workload writes on after the gap, before the instance is lost.'),
  }),
  detail,
  requires: { backupFeatures: ['wal-archive-folder'] },
  harm: () => 'instance-lost',
  label: () => 'missing-wal',
  inject: async ({ instance, database, backups }, spec) => {
    const backup = backups.at(-1)!;
    const backupEnd = backup.wal?.endSegment;
    if (!backupEnd) throw new FaultError(`missing-wal needs a base backup that knows the WAL segment it ended in; ${backup.method} recorded none`);
    const closed = await withClient(() => instance.connect(database), (client) => switchAndWaitArchived(client));
    if (!closed.archived) throw new FaultError(`missing-wal: WAL segment ${closed.closed} was not archived within a minute (pg_stat_archiver shows no progress; check archive_command)`);
    const after = (await archivedSegments(instance.archiveDir)).filter((segment) => segment > backupEnd);
    const victim = after[0];
    if (!victim) throw new FaultError(`missing-wal: no WAL segment was archived after the base backup (ended in ${backupEnd}); nothing to remove`);
    const aside = `${instance.archiveDir}.removed`;
    await mkdir(aside, { recursive: true });
    await rename(join(instance.archiveDir, victim), join(aside, victim));
    const removedAt = now();
    await sleep(spec.writeAfterGap);
    const lost = await loseInstance(instance);
    return {
      summary: `WAL segment ${victim} removed from the archive; ${Math.round(spec.writeAfterGap / 1000)}s later the instance was lost`,
      at: lost.at,
      heal: () => rename(join(aside, victim), join(instance.archiveDir, victim)),
      detail: {
        missingSegment: victim,
        movedTo: aside,
        backupEndSegment: backupEnd,
        lastClosedSegment: closed.closed,
        archivedAfterBackup: after.length,
        removedAt: removedAt.wall,
        instance: instance.name,
      },
    };
  },
});
