/**
 * One table back into the live database from a dump pg_restore reads (custom, directory, tar):
 * `pg_restore --clean` with a list that carries the table's indexes,
 * constraints, sequences and the foreign keys pointing at it (pg/toc.ts), or,
 * with tableOnly, the runbooks' bare `pg_restore --table`, which loses them.
 * A TimescaleDB hypertable, whole or a time range of it, is rebuilt from a
 * scratch restore of the dump (hypertable-restore.ts).
 */
import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { ARCHIVE_FORMATS, restoreJobs } from '../backup/pg-dump.js';
import { DATASET_TABLES, LEDGER_TABLE } from '../dataset/schema.js';
import { RecoveryError } from '../errors.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { hasTimescale, parseSchemaScript, selectList, tablePrefixes } from '../pg/toc.js';
import { identifier, oneOf } from '../support/fields.js';
import { archiveList } from './archive.js';
import { chooseBackup } from './choose-backup.js';
import { hypertablesInDump, restoreHypertable } from './hypertable-restore.js';
import { defineProcedure } from './procedure.js';

const timeRange = z.strictObject({
  from: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'expected a timestamp such as 2026-01-01T00:00:00Z'),
  to: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'expected a timestamp such as 2026-02-01T00:00:00Z'),
});

const detail = z.strictObject({
  table: z.string(),
  tableOnly: z.boolean().optional(),
  entries: z.array(z.string()).optional(),
  database: z.string(),
  backup: z.string(),
  hypertable: z
    .strictObject({
      scratch: z.string(),
      rows: z.number(),
      compressedChunks: z.number(),
      aggregates: z.array(z.string()),
      policies: z.array(z.string()),
      range: timeRange.optional(),
    })
    .optional()
    .describe('A hypertable rebuilt from a scratch restore of the dump: what came back.'),
});

declare module '../model/journal.js' {
  interface RecoveryDetails {
    'restore-table': z.output<typeof detail>;
  }
}

export const restoreTable = defineProcedure({
  procedure: 'restore-table',
  summary: 'one table back into the live database from the newest good dump pg_restore reads (custom, directory, tar), with its indexes and constraints',
  schema: z.strictObject({
    procedure: z.literal('restore-table'),
    table: oneOf([...DATASET_TABLES, LEDGER_TABLE]).optional().describe('Defaults to the table the fault damaged.'),
    tableOnly: z.boolean().default(false).describe('Restore only the table and its data, as `pg_restore --table` alone does: no indexes or constraints.'),
    database: identifier.optional().describe('Restore into this database instead of the drill\'s.'),
    verify: z.boolean().default(true).describe('false: restore the newest backup without checking it first, to show what detection prevents.'),
    jobs: z.number().int().min(1).max(64).default(2).describe('A hypertable: pg_restore --jobs for the scratch restore of the dump.'),
    range: timeRange
      .optional()
      .describe('A hypertable: restore only the rows in [from, to) (the runbooks\' "restore candles for one month"); the rest stays as it is.'),
  }),
  detail,
  requires: { families: ['logical'], formats: ARCHIVE_FORMATS },
  takesDamagedTable: true,
  heals: ['table-lost', 'table-damaged', 'bad-data'],
  label: (spec) => `restore-table${spec.table ? ` ${spec.table}` : ''}${spec.tableOnly ? ' (table only)' : ''}`,
  run: async (ctx, spec) => {
    const backup = await chooseBackup(ctx, spec.verify);
    const { instance } = ctx;
    const database = spec.database ?? ctx.database;
    // The drill file's loader fills the table from the fault when none is named.
    const table = spec.table!;
    const list = await archiveList(instance, backup.path);
    if (hasTimescale(list) && (await hypertablesInDump(instance, backup.path)).includes(`public.${table}`)) {
      // pg_restore cannot select a hypertable (its rows live in chunk tables): rebuilt from a scratch restore instead.
      const rebuilt = await restoreHypertable(instance, backup, database, table, restoreJobs(backup.format, spec.jobs), spec.range);
      return {
        instance,
        summary:
          `${table} is a hypertable: the dump restored into ${rebuilt.scratch}, then ` +
          (rebuilt.range ? `its rows from ${rebuilt.range.from} to ${rebuilt.range.to} (${rebuilt.rows}) copied back` : `${table} rebuilt in ${database} with its ${rebuilt.rows} rows`) +
          (rebuilt.compressedChunks ? `, ${rebuilt.compressedChunks} chunks compressed` : '') +
          (rebuilt.aggregates.length ? `, continuous aggregates ${rebuilt.aggregates.join(', ')}` : '') +
          (rebuilt.policies.length ? `, policies ${rebuilt.policies.join(', ')}` : ''),
        detail: { table, database, backup: backup.path, hypertable: rebuilt },
      };
    }
    if (spec.range) throw new RecoveryError(`recovery.range restores a time range of a hypertable; ${table} is not one in the backup`);
    if (spec.tableOnly) {
      await instance.runPgTool('pg_restore', ['--clean', '--if-exists', `--table=${table}`, `--dbname=${database}`, backup.path], { timeoutMs: TOOL_TIMEOUT_MS });
      return { instance, summary: `pg_restore --table=${table} --clean into ${database} (table and rows only)`, detail: { table, tableOnly: true, database, backup: backup.path } };
    }
    const script = (await instance.runPgTool('pg_restore', ['--schema-only', '--file=-', backup.path])).stdout;
    const { list: selection, selected } = selectList(list, tablePrefixes(parseSchemaScript(script), 'public', table));
    const listFile = `${backup.path}.${table}.list`;
    await writeFile(listFile, selection);
    await instance.runPgTool('pg_restore', ['--clean', '--if-exists', '--exit-on-error', `--use-list=${listFile}`, `--dbname=${database}`, backup.path], {
      timeoutMs: TOOL_TIMEOUT_MS,
    });
    return {
      instance,
      summary: `pg_restore --clean of ${table} with ${selected.length} archive entries into ${database}`,
      detail: { table, entries: selected, database, backup: backup.path },
    };
  },
});
