/**
 * The runbooks' full restore: a new database, then `pg_restore -j N` of the
 * newest good dump (or `gunzip -c | psql` of a plain one); a TimescaleDB
 * database the documented way (timescale-restore.ts).
 */
import { z } from 'zod';
import { restoreJobs } from '../backup/pg-dump.js';
import { RecoveryError } from '../errors.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { quoteIdent, withClient } from '../pg/client.js';
import type { Instance } from '../engines/types.js';
import { identifier } from '../support/fields.js';
import { dumpHasTimescale } from './archive.js';
import { chooseBackup } from './choose-backup.js';
import { ownersOption, ownershipArgs, ownershipOutcome } from './ownership.js';
import { defineProcedure } from './procedure.js';
import { restoreTimescaleDump } from './timescale-restore.js';

const detail = z.strictObject({
  into: z.string().optional().describe('A separate restore target: the server it restored into (an upgrade proof when it is a newer major).'),
  jobs: z.number(),
  timescale: z.boolean(),
  database: z.string(),
  backup: z.string(),
  timescaledb: z
    .strictObject({
      dump: z.string().optional(),
      available: z.array(z.string()),
      createdAt: z.string(),
      endedAt: z.string(),
      restoringAfter: z.string(),
      steps: z.array(z.string()),
    })
    .optional()
    .describe('How TimescaleDB was restored: the dump\'s version, what the target offered, what was done.'),
});

declare module '../model/journal.js' {
  interface RecoveryDetails {
    'restore-database': z.output<typeof detail>;
  }
}

/**
 * Fresh statistics for the restored database (pg_restore brings none), as an
 * operator takes them after a restore: vacuumdb, a table per job.
 */
async function analyze(instance: Instance, database: string, jobs: number): Promise<void> {
  await instance.runPgTool('vacuumdb', ['--analyze-only', `--jobs=${jobs}`, `--dbname=${database}`], { timeoutMs: TOOL_TIMEOUT_MS });
}

export const restoreDatabase = defineProcedure({
  procedure: 'restore-database',
  summary: 'a new database from the newest good dump: pg_restore -j N, or gunzip -c | psql for plain SQL; then vacuumdb --analyze-only -j N',
  schema: z.strictObject({
    procedure: z.literal('restore-database'),
    jobs: z.number().int().min(1).max(64).default(2),
    database: identifier.optional().describe('Restore into this database instead of the drill\'s.'),
    verify: z.boolean().default(true).describe('false: restore the newest backup without checking it first, to show what detection prevents.'),
    owners: ownersOption(' A plain SQL dump cannot skip them.'),
  }),
  detail,
  requires: { families: ['logical'], separateTarget: true },
  heals: ['table-lost', 'table-damaged', 'database-lost', 'bad-data', 'production-lost'],
  label: (spec) => `restore-database (pg_restore -j ${spec.jobs})`,
  run: async (ctx, spec) => {
    const backup = await chooseBackup(ctx, spec.verify);
    // A separate restore target: a new instance of its engine (another version), beside the struck one.
    const instance = ctx.target
      ? await ctx.target.startInstance(`${ctx.drillName}-restored`, ctx.logDir, { mounts: [ctx.instance.backupDir] })
      : ctx.instance;
    if (ctx.target) ctx.track(instance);
    const database = spec.database ?? ctx.database;
    // Restoring into another server (another major, another TimescaleDB) is the point of the drill: the journal names it.
    const into = ctx.target ? { into: `PostgreSQL ${(await instance.serverInfo()).version}` } : {};
    const plain = backup.format === 'plain.gz';
    if (plain && !spec.owners) throw new RecoveryError(`${backup.path} is plain SQL: its OWNER TO and GRANT statements cannot be skipped (owners: false); create the roles it names on the restore target, or drill a custom-format dump`);
    const ownership = ownershipArgs(spec.owners);
    const jobs = restoreJobs(backup.format, spec.jobs);
    const timescale = await dumpHasTimescale(instance, backup);
    await withClient(
      () => instance.connect('postgres'),
      async (admin) => {
        await admin.query(`drop database if exists ${quoteIdent(database)} with (force)`);
        await admin.query(`create database ${quoteIdent(database)}`);
      },
    );
    if (timescale) {
      const restored = await restoreTimescaleDump(instance, database, backup, jobs, ownership);
      // One database-wide ANALYZE, not vacuumdb: ANALYZE of a hypertable reaches into every chunk, so vacuumdb
      // (a table at a time) analyses each chunk twice, and with --jobs two sessions at once (timescale/timescaledb#6038).
      await withClient(() => instance.connect(database), (client) => client.query('analyze'));
      return {
        instance,
        summary:
          `new database ${database}, TimescaleDB ${restored.createdAt}${restored.endedAt !== restored.createdAt ? ` updated to ${restored.endedAt}` : ''}: ` +
          restored.steps.join(', '),
        detail: { ...into, jobs, timescale, database, backup: backup.path, timescaledb: restored },
        restoredFrom: backup,
        ...ownershipOutcome(spec.owners),
        timescaleVersion: restored.endedAt,
      };
    }
    if (plain) {
      // The runbooks' way: gunzip -c backup.sql.gz | psql, stopping at the first error.
      await instance.runBesideServer('bash', ['-c', 'set -o pipefail; gunzip -c "$1" | psql -X --quiet -v ON_ERROR_STOP=1 --dbname="$2"', 'bash', backup.path, database], {
        timeoutMs: TOOL_TIMEOUT_MS,
      });
    } else {
      await instance.runPgTool('pg_restore', [`--jobs=${jobs}`, '--exit-on-error', ...ownership, `--dbname=${database}`, backup.path], { timeoutMs: TOOL_TIMEOUT_MS });
    }
    await analyze(instance, database, spec.jobs);
    return {
      instance,
      summary: (ctx.target ? `into a new instance of ${into.into}: ` : '') + (plain
        ? `new database ${database}, gunzip -c | psql`
        : `new database ${database}, pg_restore -j ${jobs} of the ${backup.format} dump${jobs < spec.jobs ? ` (a tar archive restores single-threaded; ${spec.jobs} jobs asked)` : ''}`),
      detail: { ...into, jobs, timescale, database, backup: backup.path },
      restoredFrom: backup,
      ...ownershipOutcome(spec.owners),
    };
  },
});
