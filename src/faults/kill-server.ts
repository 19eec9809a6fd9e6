/** SIGKILL of the postmaster while the workload writes: a crash, its data folder intact. */
import { z } from 'zod';
import { FaultError, InternalError } from '../errors.js';
import { now } from '../support/clock.js';
import { defineFault } from './fault.js';

const detail = z.strictObject({});

declare module '../model/journal.js' {
  interface FaultDetails {
    'kill-server': z.output<typeof detail>;
  }
}

export const killServer = defineFault({
  type: 'kill-server',
  summary: 'SIGKILL of the postmaster mid-write; its data folder stays',
  schema: z.strictObject({ type: z.literal('kill-server') }),
  detail,
  requires: { capabilities: ['kill'] },
  harm: () => 'server-down',
  label: () => 'kill-server',
  inject: async ({ instance }) => {
    if (!instance.kill) throw new InternalError('kill-server on an instance without the kill capability; it should have been refused at setup');
    if (!(await instance.running())) throw new FaultError(`kill-server: the server of ${instance.name} was not running, so there was nothing to kill`);
    // The moment of the damage is the kill itself.
    const at = now();
    await instance.kill();
    return { summary: `SIGKILL of the postmaster (${instance.kind}) while the workload writes`, at, detail: {} };
  },
});
