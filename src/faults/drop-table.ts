/** An operator's DROP TABLE ... CASCADE on the live database while the workload writes. */
import { z } from 'zod';
import { quoteIdent, withClient } from '../pg/client.js';
import { now } from '../support/clock.js';
import { defineFault } from './fault.js';
import { table } from './table.js';

const detail = z.strictObject({ table: z.string(), database: z.string(), cascaded: z.array(z.string()) });

declare module '../model/journal.js' {
  interface FaultDetails {
    'drop-table': z.output<typeof detail>;
  }
}

export const dropTable = defineFault({
  type: 'drop-table',
  summary: 'DROP TABLE ... CASCADE of one table (its dependent foreign keys go with it)',
  schema: z.strictObject({ type: z.literal('drop-table'), table }),
  detail,
  harm: () => 'table-lost',
  damagedTable: (spec) => spec.table,
  label: (spec) => `drop-table ${spec.table}`,
  inject: ({ instance, database }, spec) =>
    withClient(
      () => instance.connect(database),
      async (client) => {
        const notices: string[] = [];
        client.on('notice', (notice) => notices.push([notice.message, notice.detail].filter(Boolean).join(': ')));
        // CASCADE, as an operator's mistake would: dependent foreign keys go with it.
        await client.query(`drop table ${quoteIdent(spec.table)} cascade`);
        return { summary: `DROP TABLE ${spec.table} CASCADE on ${database}`, at: now(), detail: { table: spec.table, database, cascaded: notices } };
      },
    ),
});
