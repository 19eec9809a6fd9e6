/** The recovery procedures. A new procedure is one module and one line here. */
import type { z } from 'zod';
import { InternalError } from '../errors.js';
import type { ProcedureName } from '../model/journal.js';
import { failover } from './failover.js';
import { freeSpace } from './free-space.js';
import { none } from './none.js';
import { pointInTime } from './point-in-time.js';
import type { Procedure } from './procedure.js';
import { restart } from './restart.js';
import { restoreDatabase } from './restore-database.js';
import { restoreTable } from './restore-table.js';
import { script } from './script.js';

export const PROCEDURES = [restoreTable, restoreDatabase, pointInTime, failover, restart, freeSpace, script, none] as const;

/** The `recovery:` section of a parsed drill file. */
export type RecoverySpec = z.output<(typeof PROCEDURES)[number]['schema']>;

/** The module of a procedure, found by its name (the drill file's schema already matched its options to it). */
export function procedureModule(name: ProcedureName): Procedure {
  const found: Procedure | undefined = PROCEDURES.find((p) => p.procedure === name);
  if (!found) throw new InternalError(`no recovery procedure module for "${name}"`);
  return found;
}
