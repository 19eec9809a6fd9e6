/**
 * One table back into the live database from a dump pg_restore reads (custom, directory, tar):
 * `pg_restore --clean` with a list that carries the table's indexes,
 * constraints, sequences and the foreign keys pointing at it (pg/toc.ts), or,
 * with tableOnly, the runbooks' bare `pg_restore --table`, which loses them.
 * A TimescaleDB hypertable, whole or a time range of it, is rebuilt from a
 * scratch restore of the dump (hypertable-restore.ts).
 *
 * From a backup made elsewhere there is no live database: the table (any
 * table of the dump, `name` or `schema.name`) goes into a new one, with its
 * schema, and without the foreign keys to or from other tables, which are
 * not there; the summary names each one left out. A hypertable comes only
 * with its database: the whole dump goes in, the documented way.
 */
import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { ARCHIVE_FORMATS, restoreJobs } from '../backup/pg-dump.js';
import { DATASET_TABLES, LEDGER_TABLE } from '../dataset/schema.js';
import { RecoveryError } from '../errors.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import type { Instance } from '../engines/types.js';
import { quoteIdent, withClient } from '../pg/client.js';
import { foreignKeysOfOthers, hasTimescale, parseSchemaScript, selectList, tablePrefixes } from '../pg/toc.js';
import { identifier } from '../support/fields.js';
import { archiveList } from './archive.js';
import { chooseBackup } from './choose-backup.js';
import { hypertablesInDump, hypertableTablesInDump, restoreHypertable } from './hypertable-restore.js';
import { restoreTimescaleDump } from './timescale-restore.js';
import { ownersOption, ownershipArgs, ownershipOutcome } from './ownership.js';
import { defineProcedure } from './procedure.js';

const timeRange = z.strictObject({
  from: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'expected a timestamp such as 2026-01-01T00:00:00Z'),
  to: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'expected a timestamp such as 2026-02-01T00:00:00Z'),
});

/** A table of a dump: `name` (in public) or `schema.name`, lower-case identifiers as pg_dump writes them unquoted. */
const TABLE_NAME = /^(?:[a-z_][a-z0-9_$]{0,62}\.)?[a-z_][a-z0-9_$]{0,62}$/;

/** The schema and the name of `table` (`name` is public.name). */
function schemaAndName(table: string): [string, string] {
  const dot = table.indexOf('.');
  return dot < 0 ? ['public', table] : [table.slice(0, dot), table.slice(dot + 1)];
}

const detail = z.strictObject({
  table: z.string(),
  newDatabase: z.boolean().optional().describe('The database did not exist (a backup made elsewhere) and was created for the table.'),
  leftOut: z.array(z.string()).optional().describe('Foreign keys to or from other tables, not restored into a new database that lacks those tables.'),
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
  summary: 'one table back into the live database (from a backup made elsewhere, into a new one) from the newest good dump pg_restore reads (custom, directory, tar), with its indexes and constraints',
  schema: z.strictObject({
    procedure: z.literal('restore-table'),
    table: z
      .string()
      .regex(TABLE_NAME, 'expected a table as name or schema.name, e.g. candles or audit.events')
      .optional()
      .describe('Defaults to the table the fault damaged. A seeded drill names one of its dataset tables; a drill of a backup made elsewhere names any table of the dump, as name or schema.name (required).'),
    tableOnly: z.boolean().default(false).describe('Restore only the table and its data, as `pg_restore --table` alone does: no indexes or constraints.'),
    database: identifier.optional().describe('Restore into this database instead of the drill\'s.'),
    verify: z.boolean().default(true).describe('false: restore the newest backup without checking it first, to show what detection prevents.'),
    owners: ownersOption(),
    jobs: z.number().int().min(1).max(64).default(2).describe('A hypertable: pg_restore --jobs for the scratch restore of the dump.'),
    range: timeRange
      .optional()
      .describe('A hypertable: restore only the rows in [from, to) (the runbooks\' "restore candles for one month"); the rest stays as it is.'),
  }),
  detail,
  requires: { families: ['logical'], formats: ARCHIVE_FORMATS },
  takesDamagedTable: true,
  heals: ['table-lost', 'table-damaged', 'bad-data', 'production-lost'],
  cannotHeal: (spec, harm) => {
    const seeded: readonly string[] = [...DATASET_TABLES, LEDGER_TABLE];
    if (harm !== 'production-lost' && spec.table !== undefined && !seeded.includes(spec.table)) {
      return `recovery.table ${spec.table} is not a table the drill seeds: expected one of ${seeded.join(', ')}`;
    }
    if (harm === 'production-lost' && spec.range) return 'recovery.range restores a time range into the live hypertable, and a backup made elsewhere has no live database: remove range';
    return undefined;
  },
  label: (spec) => `restore-table${spec.table ? ` ${spec.table}` : ''}${spec.tableOnly ? ' (table only)' : ''}`,
  run: async (ctx, spec) => {
    const backup = await chooseBackup(ctx, spec.verify);
    const { instance } = ctx;
    const database = spec.database ?? ctx.database;
    // The drill file's loader fills the table from the fault when none is named.
    const table = spec.table!;
    const [schema, name] = schemaAndName(table);
    const list = await archiveList(instance, backup.path);
    // From a backup made elsewhere there is no live database to restore into: the table gets a new one.
    const newDatabase = !(await databaseExists(instance, database));
    if (newDatabase) await withClient(() => instance.connect('postgres'), (admin) => admin.query(`create database ${quoteIdent(database)}`));
    const ownership = ownershipArgs(spec.owners);
    const judged = (dumpedAs: string[], wholeDatabase = false) => ({
      restoredFrom: backup,
      onlyTable: { schema, name, dumpedAs, ...(wholeDatabase ? { wholeDatabase } : {}) },
      ...ownershipOutcome(spec.owners),
    });
    if (hasTimescale(list) && (await hypertablesInDump(instance, backup.path)).includes(`${schema}.${name}`)) {
      if (newDatabase) {
        // TimescaleDB restores a hypertable only with its database (its catalog, its chunks): the documented
        // whole restore goes into the new database, and the checks judge the table.
        const restored = await restoreTimescaleDump(instance, database, backup, restoreJobs(backup.format, spec.jobs), ownership);
        return {
          instance,
          ...judged(await hypertableTablesInDump(instance, backup.path, schema, name), true),
          timescaleVersion: restored.endedAt,
          summary:
            `${table} is a hypertable, which TimescaleDB restores only with its database: the whole dump into a new database ${database}, ` +
            `TimescaleDB ${restored.createdAt}${restored.endedAt !== restored.createdAt ? ` updated to ${restored.endedAt}` : ''} (${restored.steps.join(', ')}); ${table} judged alone`,
          detail: { table, database, backup: backup.path, newDatabase },
        };
      }
      // pg_restore cannot select a hypertable (its rows live in chunk tables): rebuilt from a scratch restore instead.
      const rebuilt = await restoreHypertable(instance, backup, database, name, restoreJobs(backup.format, spec.jobs), spec.range);
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
    const into = newDatabase ? ` into a new database ${database}` : ` into ${database}`;
    if (spec.tableOnly) {
      await instance.runPgTool('pg_restore', ['--clean', '--if-exists', ...ownership, `--schema=${schema}`, `--table=${name}`, `--dbname=${database}`, backup.path], { timeoutMs: TOOL_TIMEOUT_MS });
      return {
        instance,
        ...judged([`${schema}.${name}`]),
        summary: `pg_restore --table=${table} --clean${into} (table and rows only)`,
        detail: { table, tableOnly: true, database, backup: backup.path, ...(newDatabase ? { newDatabase } : {}) },
      };
    }
    const script = (await instance.runPgTool('pg_restore', ['--schema-only', '--file=-', backup.path])).stdout;
    const entries = parseSchemaScript(script);
    let prefixes = tablePrefixes(entries, schema, name);
    const leftOut: string[] = [];
    if (newDatabase) {
      // A new database holds no other table: a foreign key to or from one cannot be made, and is named instead.
      const foreign = foreignKeysOfOthers(entries, schema, name);
      leftOut.push(...foreign.map((entry) => entry.name));
      prefixes = prefixes.filter((prefix) => !foreign.some((entry) => prefix === `FK CONSTRAINT ${entry.schema} ${entry.name} `));
      if (schema !== 'public') prefixes.push(`SCHEMA - ${schema} `);
    }
    const { list: selection, selected } = selectList(list, prefixes);
    const listFile = `${backup.path}.${table}.list`;
    await writeFile(listFile, selection);
    await instance.runPgTool('pg_restore', ['--clean', '--if-exists', '--exit-on-error', ...ownership, `--use-list=${listFile}`, `--dbname=${database}`, backup.path], {
      timeoutMs: TOOL_TIMEOUT_MS,
    });
    return {
      instance,
      ...judged([`${schema}.${name}`]),
      summary:
        `pg_restore --clean of ${table} with ${selected.length} archive entries${into}` +
        (leftOut.length ? `; foreign keys to or from tables not restored left out: ${leftOut.join(', ')}` : ''),
      detail: { table, entries: selected, database, backup: backup.path, ...(newDatabase ? { newDatabase } : {}), ...(leftOut.length ? { leftOut } : {}) },
    };
  },
});

async function databaseExists(instance: Instance, database: string): Promise<boolean> {
  return withClient(
    () => instance.connect('postgres'),
    async (admin) => ((await admin.query('select 1 from pg_database where datname = $1', [database])).rowCount ?? 0) > 0,
  );
}
