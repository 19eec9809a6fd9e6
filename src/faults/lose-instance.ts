/** The machine is gone: the server dies mid-write and its data folder with it. Backups and the WAL archive remain. */
import { z } from 'zod';
import { defineFault } from './fault.js';
import { loseInstance as lose } from './incidents.js';

const detail = z.strictObject({ instance: z.string() });

declare module '../model/journal.js' {
  interface FaultDetails {
    'lose-instance': z.output<typeof detail>;
  }
}

export const loseInstance = defineFault({
  type: 'lose-instance',
  summary: 'the server killed mid-write and its data folder deleted; backups and the WAL archive remain',
  schema: z.strictObject({ type: z.literal('lose-instance') }),
  detail,
  harm: () => 'instance-lost',
  label: () => 'lose-instance',
  inject: async ({ instance }) => {
    const { summary, at } = await lose(instance);
    return { summary, at, detail: { instance: instance.name } };
  },
});
