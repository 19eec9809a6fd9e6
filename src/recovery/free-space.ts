/** The runbook's "Insufficient Disk Space": remove what filled the disk, start the server if it stopped, wait until it serves. */
import { z } from 'zod';
import { defineProcedure } from './procedure.js';

const detail = z.strictObject({ filler: z.string(), restarted: z.boolean() });

declare module '../model/journal.js' {
  interface RecoveryDetails {
    'free-space': z.output<typeof detail>;
  }
}

export const freeSpace = defineProcedure({
  procedure: 'free-space',
  summary: 'remove what filled the data disk, start the server if it stopped, wait until it serves',
  schema: z.strictObject({ procedure: z.literal('free-space') }),
  detail,
  heals: ['disk-full'],
  label: () => 'free-space',
  run: async ({ instance, fault }) => {
    const debris = fault.debris ?? [];
    if (debris.length) await instance.runBesideServer('rm', ['-f', ...debris]);
    const wasRunning = await instance.running();
    if (!wasRunning) await instance.start();
    await instance.waitPromoted(120_000);
    const filler = debris.join(' ');
    return {
      instance,
      summary: `removed ${filler || 'nothing'}${wasRunning ? '' : ', started the server again (crash recovery)'}`,
      detail: { filler, restarted: !wasRunning },
    };
  },
});
