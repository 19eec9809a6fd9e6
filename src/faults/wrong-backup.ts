/**
 * A backup that is valid but wrong: it passes every integrity check and
 * restores cleanly, yet holds the wrong data, as a backup script pointed at
 * the wrong thing would make. Only the content checks can catch it. Then the
 * database is lost.
 */
import { rename, rm } from 'node:fs/promises';
import { z } from 'zod';
import { dump, writeChecksums, type DumpFormat } from '../backup/pg-dump.js';
import { seedDataset } from '../dataset/seed.js';
import { withClient } from '../pg/client.js';
import { oneOf } from '../support/fields.js';
import { defineFault } from './fault.js';
import { dropDatabase } from './incidents.js';

const STAGING = 'market_staging';
const KINDS = ['empty', 'partial', 'other-database'] as const;

const detail = z.strictObject({
  wrong: z.strictObject({ kind: z.enum(KINDS), dumped: z.string(), options: z.array(z.string()), replaced: z.string() }),
  database: z.string(),
});

declare module '../model/journal.js' {
  interface FaultDetails {
    'wrong-backup': z.output<typeof detail>;
  }
}

export const wrongBackup = defineFault({
  type: 'wrong-backup',
  summary: 'the newest dump is valid but of the wrong data (schema only, tables missing, or another database); then the database is lost',
  schema: z.strictObject({ type: z.literal('wrong-backup'), kind: oneOf(KINDS).default('other-database') }),
  detail,
  requires: { backupFeatures: ['harness-dump'] },
  harm: () => 'database-lost',
  label: (spec) => `wrong-backup (${spec.kind})`,
  inject: async ({ instance, database, backups, seed }, spec) => {
    const newest = backups.at(-1)!;
    const format = newest.format as DumpFormat;
    let source = database;
    let extra: string[] = [];
    if (spec.kind === 'other-database') {
      // The script dumped staging: same schema, other rows.
      await withClient(() => instance.connect('postgres'), (admin) => admin.query(`create database ${STAGING}`));
      await withClient(() => instance.connect(STAGING), (staging) => seedDataset(staging, { scale: 'tiny', seed: seed + 1, timescale: false }));
      source = STAGING;
    } else if (spec.kind === 'empty') {
      extra = ['--schema-only'];
    } else {
      extra = ['--exclude-table-data=trades', '--exclude-table-data=orders'];
    }
    const wrong = await dump(instance, source, format, { name: `${database}_wrong`, extra });
    const pristine = `${newest.path}.pristine`;
    await rename(newest.path, pristine);
    await rename(wrong.path, newest.path);
    if (format !== 'directory') await rm(wrong.sidecar, { force: true });
    // The script checksummed what it wrote: the checksums match the wrong dump.
    await writeChecksums(newest.path, format);
    const incident = await dropDatabase(instance, database);
    return {
      summary: `the newest backup is a valid dump of the wrong data (${spec.kind}), then ${incident.summary}`,
      at: incident.at,
      detail: { wrong: { kind: spec.kind, dumped: source, options: extra, replaced: newest.path }, database },
      heal: async () => {
        // A directory dump is a folder: the wrong one goes before the pristine one takes its name back.
        await rm(newest.path, { recursive: true, force: true });
        await rename(pristine, newest.path);
        await writeChecksums(newest.path, format);
      },
    };
  },
});
