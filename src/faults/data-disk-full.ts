/**
 * The data folder's filesystem fills up while the workload writes: a file
 * the server does not own takes the space, and the server's errors are
 * recorded. The filler is left for the recovery to find and remove.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { errorMessage } from '../errors.js';
import { withClient } from '../pg/client.js';
import { now, waitWhile } from '../support/clock.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { defineFault } from './fault.js';

const FILLER = 'restore_drill_filler';

const detail = z.strictObject({ filler: z.string(), serverSaid: z.array(z.string()), workloadError: z.string().optional() });

declare module '../model/journal.js' {
  interface FaultDetails {
    'data-disk-full': z.output<typeof detail>;
  }
}

export const dataDiskFull = defineFault({
  type: 'data-disk-full',
  summary: "the data folder's size-limited filesystem (engine.dataVolume) fills up while the workload writes",
  schema: z.strictObject({ type: z.literal('data-disk-full') }),
  detail,
  requires: { capabilities: ['sizeLimitedVolume'], dataVolume: true },
  harm: () => 'disk-full',
  label: () => 'data-disk-full',
  inject: async ({ instance, workload }) => {
    const dataDir = await withClient(
      () => instance.connect('postgres'),
      async (client) => (await client.query<{ dir: string }>("select current_setting('data_directory') as dir")).rows[0]!.dir,
    );
    const filler = join(dataDir, FILLER);
    // dd stops when the disk is full; that is the point, not an error.
    await instance.runBesideServer('sh', ['-c', 'dd if=/dev/zero of="$1" bs=1M 2>/dev/null; exit 0', 'sh', filler], { timeoutMs: TOOL_TIMEOUT_MS });
    const at = now();
    await waitWhile(() => workload.summary().errors.length === 0, 20_000, 100);
    const log = await instance.logTail(200).catch((error: unknown) => errorMessage(error));
    const workloadError = workload.summary().errors[0];
    return {
      summary: `the data folder's filesystem filled up while the workload wrote${workloadError ? `: ${workloadError}` : ''}`,
      at,
      detail: {
        filler,
        serverSaid: log.split('\n').filter((line) => /No space left on device|PANIC|could not (write|extend)/.test(line)).slice(-10),
        ...(workloadError ? { workloadError } : {}),
      },
      debris: [filler],
      // Whatever the recovery did, the filler goes (where the server's side can still be reached).
      heal: async () => {
        if (await instance.canRunBesideServer()) await instance.runBesideServer('rm', ['-f', filler]);
      },
    };
  },
});
