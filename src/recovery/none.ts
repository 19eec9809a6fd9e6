/** No recovery at all: the drill shows the damage as it stands (and must fail). */
import { z } from 'zod';
import { defineProcedure } from './procedure.js';

const detail = z.strictObject({});

declare module '../model/journal.js' {
  interface RecoveryDetails {
    none: z.output<typeof detail>;
  }
}

export const none = defineProcedure({
  procedure: 'none',
  summary: 'nothing: the drill shows the damage as it stands, and must fail',
  schema: z.strictObject({ procedure: z.literal('none') }),
  detail,
  heals: [],
  label: () => 'none',
  run: async ({ instance }) => ({ instance, summary: 'no recovery (the drill shows the damage as it stands)', detail: {} }),
});
