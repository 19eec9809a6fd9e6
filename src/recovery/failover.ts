/** Failover: the hot standby promoted after the primary died, as `pg_promote()` does it. */
import { z } from 'zod';
import { InternalError } from '../errors.js';
import { withClient } from '../pg/client.js';
import { defineProcedure } from './procedure.js';

const detail = z.strictObject({ promoted: z.string() });

declare module '../model/journal.js' {
  interface RecoveryDetails {
    failover: z.output<typeof detail>;
  }
}

export const failover = defineProcedure({
  procedure: 'failover',
  summary: 'the hot standby promoted with pg_promote() after the primary is gone',
  schema: z.strictObject({ procedure: z.literal('failover') }),
  detail,
  requires: { families: ['replica'] },
  heals: ['server-down', 'instance-lost'],
  label: () => 'failover',
  run: async ({ standby }) => {
    if (!standby) throw new InternalError('failover needs the hot standby the drill starts with backup method standby');
    await withClient(() => standby.connect('postgres'), (client) => client.query('select pg_promote(true, 60)'));
    await standby.waitPromoted(60_000);
    return { instance: standby, summary: `standby ${standby.name} promoted with pg_promote()`, detail: { promoted: standby.name } };
  },
});
