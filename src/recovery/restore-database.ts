/**
 * The runbooks' full restore: a new database, then `pg_restore -j N` of the
 * newest good dump (or `gunzip -c | psql` of a plain one), wrapped in
 * timescaledb_pre_restore()/post_restore() when the archive has TimescaleDB.
 */
import { z } from 'zod';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { quoteIdent, withClient } from '../pg/client.js';
import { hasTimescale } from '../pg/toc.js';
import { identifier } from '../support/fields.js';
import { archiveList } from './archive.js';
import { chooseBackup } from './choose-backup.js';
import { defineProcedure } from './procedure.js';

const detail = z.strictObject({ jobs: z.number(), timescale: z.boolean(), database: z.string(), backup: z.string() });

declare module '../model/journal.js' {
  interface RecoveryDetails {
    'restore-database': z.output<typeof detail>;
  }
}

export const restoreDatabase = defineProcedure({
  procedure: 'restore-database',
  summary: 'a new database from the newest good dump: pg_restore -j N, or gunzip -c | psql for plain SQL',
  schema: z.strictObject({
    procedure: z.literal('restore-database'),
    jobs: z.number().int().min(1).max(64).default(2),
    database: identifier.optional().describe('Restore into this database instead of the drill\'s.'),
    verify: z.boolean().default(true).describe('false: restore the newest backup without checking it first, to show what detection prevents.'),
  }),
  detail,
  requires: { families: ['logical'] },
  heals: ['table-lost', 'table-damaged', 'database-lost', 'bad-data'],
  label: (spec) => `restore-database (pg_restore -j ${spec.jobs})`,
  run: async (ctx, spec) => {
    const backup = await chooseBackup(ctx, spec.verify);
    const { instance } = ctx;
    const database = spec.database ?? ctx.database;
    const plain = backup.format === 'plain.gz';
    const timescale = !plain && hasTimescale(await archiveList(instance, backup.path));
    await withClient(
      () => instance.connect('postgres'),
      async (admin) => {
        await admin.query(`drop database if exists ${quoteIdent(database)} with (force)`);
        await admin.query(`create database ${quoteIdent(database)}`);
      },
    );
    if (timescale) {
      await withClient(
        () => instance.connect(database),
        async (client) => {
          await client.query('create extension if not exists timescaledb');
          await client.query('select timescaledb_pre_restore()');
        },
      );
    }
    if (plain) {
      // The runbooks' way: gunzip -c backup.sql.gz | psql, stopping at the first error.
      await instance.runBesideServer('bash', ['-c', 'set -o pipefail; gunzip -c "$1" | psql -X --quiet -v ON_ERROR_STOP=1 --dbname="$2"', 'bash', backup.path, database], {
        timeoutMs: TOOL_TIMEOUT_MS,
      });
    } else {
      await instance.runPgTool('pg_restore', [`--jobs=${spec.jobs}`, '--exit-on-error', `--dbname=${database}`, backup.path], { timeoutMs: TOOL_TIMEOUT_MS });
    }
    await withClient(
      () => instance.connect(database),
      async (client) => {
        if (timescale) await client.query('select timescaledb_post_restore()');
        await client.query('analyze');
      },
    );
    return {
      instance,
      summary: plain
        ? `new database ${database}, gunzip -c | psql`
        : `new database ${database}, pg_restore -j ${spec.jobs}${timescale ? ' inside timescaledb_pre_restore()/post_restore()' : ''}`,
      detail: { jobs: spec.jobs, timescale, database, backup: backup.path },
    };
  },
});
