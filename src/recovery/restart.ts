/** The killed server started again on its own data: crash recovery replays the WAL. */
import { z } from 'zod';
import { defineProcedure } from './procedure.js';

const detail = z.strictObject({});

declare module '../model/journal.js' {
  interface RecoveryDetails {
    restart: z.output<typeof detail>;
  }
}

export const restart = defineProcedure({
  procedure: 'restart',
  summary: 'the server started again on its own data folder: crash recovery',
  schema: z.strictObject({ procedure: z.literal('restart') }),
  detail,
  heals: ['server-down'],
  label: () => 'restart',
  run: async ({ instance }) => {
    await instance.start();
    return { instance, summary: 'server started again on its own data: crash recovery', detail: {} };
  },
});
