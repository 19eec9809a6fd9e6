/**
 * The erroneous UPDATE or DELETE. The workload is held for a moment so the
 * recovery target falls between two known commits: every ledger row before
 * it must come back, every row after it must not. The moment is recorded as
 * time, LSN, xid and a named restore point.
 */
import { z } from 'zod';
import { errorMessage, FaultError } from '../errors.js';
import { recoveryMarkerSchema } from '../model/moments.js';
import { withClient } from '../pg/client.js';
import { now } from '../support/clock.js';
import { defineFault } from './fault.js';

const DEFAULT_BAD_WRITE = 'update trades set price = price * 100 where symbol_id % 3 = 0';

const detail = z.strictObject({ sql: z.string(), rowsAffected: z.number(), target: recoveryMarkerSchema });

declare module '../model/journal.js' {
  interface FaultDetails {
    'bad-write': z.output<typeof detail>;
  }
}

export const badWrite = defineFault({
  type: 'bad-write',
  summary: 'an erroneous UPDATE or DELETE, committed after a recorded recovery target (time, LSN, xid, restore point)',
  schema: z.strictObject({
    type: z.literal('bad-write'),
    sql: z.string().min(1).default(DEFAULT_BAD_WRITE).describe('The statement (default: prices of a third of the trades multiplied by 100).'),
  }),
  detail,
  marksRecoveryTarget: true,
  harm: () => 'bad-data',
  label: () => 'bad-write',
  // EXPLAIN plans the statement against the seeded schema without running it.
  check: (client, spec) =>
    client.query(`explain (costs off) ${spec.sql}`).then(
      () => undefined,
      (error: unknown) => `sql: the server rejects it: ${errorMessage(error)}`,
    ),
  inject: async ({ instance, database, workload, capture }, spec) => {
    const firstSeqAfter = await workload.pause();
    try {
      const expected = await capture();
      return await withClient(
        () => instance.connect(database),
        async (client) => {
          const name = `before_bad_write_${Date.now()}`;
          const mark = await client.query<{ lsn: string; time: string }>('select pg_create_restore_point($1)::text as lsn, clock_timestamp()::text as time', [name]);
          await client.query('begin');
          const xid = (await client.query<{ xid: string }>('select txid_current()::text as xid')).rows[0]!.xid;
          const damage = await client.query(spec.sql);
          const rows = damage.rowCount ?? 0;
          if (rows === 0) {
            await client.query('rollback');
            // A bad write that changes nothing proves nothing: a recovery would "pass" with nothing to undo.
            throw new FaultError(`bad-write: ${spec.sql} changed no rows, so there is nothing for a recovery to undo; give fault.sql a statement that changes rows of this dataset`);
          }
          await client.query('commit');
          const at = now();
          const target = { ...mark.rows[0]!, xid, name, firstSeqAfter };
          return {
            summary: `bad write: ${spec.sql} (${rows} rows), committed as xid ${xid} after restore point ${name} at ${target.lsn}`,
            at,
            detail: { sql: spec.sql, rowsAffected: rows, target },
            expected,
            marker: target,
          };
        },
      );
    } finally {
      workload.resume();
    }
  },
});
