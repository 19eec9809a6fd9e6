/** The whole database dropped, as `DROP DATABASE ... WITH (FORCE)` from a wrong terminal would. */
import { z } from 'zod';
import { defineFault } from './fault.js';
import { dropDatabase as drop } from './incidents.js';

const detail = z.strictObject({ database: z.string() });

declare module '../model/journal.js' {
  interface FaultDetails {
    'drop-database': z.output<typeof detail>;
  }
}

export const dropDatabase = defineFault({
  type: 'drop-database',
  summary: 'DROP DATABASE ... WITH (FORCE) of the drill database',
  schema: z.strictObject({ type: z.literal('drop-database') }),
  detail,
  harm: () => 'database-lost',
  label: () => 'drop-database',
  inject: async ({ instance, database }) => {
    const { summary, at } = await drop(instance, database);
    return { summary, at, detail: { database } };
  },
});
