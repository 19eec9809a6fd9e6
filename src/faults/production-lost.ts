/**
 * Production is gone and last night's backup is all there is: the scenario
 * of a drill of a backup made elsewhere (backup.method existing). Nothing is
 * struck (the drill's instance never held the data); the moment is recorded,
 * and RTO counts from it to the verified restore.
 */
import { z } from 'zod';
import { now } from '../support/clock.js';
import { defineFault } from './fault.js';

const detail = z.strictObject({});

declare module '../model/journal.js' {
  interface FaultDetails {
    'production-lost': z.output<typeof detail>;
  }
}

export const PRODUCTION_LOST = 'production is lost: its backup is restored into an empty instance';

export const productionLost = defineFault({
  type: 'production-lost',
  summary: 'the database the backup was taken of is gone (a backup made elsewhere, only read)',
  schema: z.strictObject({ type: z.literal('production-lost') }),
  detail,
  requires: { backupFeatures: ['made-elsewhere'] },
  harm: () => 'production-lost',
  label: () => 'production-lost',
  inject: async () => ({ summary: PRODUCTION_LOST, at: now(), detail: {} }),
});
