/** The faults. A new fault is one module and one line here. */
import type { z } from 'zod';
import { InternalError } from '../errors.js';
import type { FaultType } from '../model/journal.js';
import { backupDiskFull } from './backup-disk-full.js';
import { badWrite } from './bad-write.js';
import { corruptBackup } from './corrupt-backup.js';
import { corruptPage } from './corrupt-page.js';
import { dataDiskFull } from './data-disk-full.js';
import { dropDatabase } from './drop-database.js';
import { dropTable } from './drop-table.js';
import type { Fault } from './fault.js';
import { killServer } from './kill-server.js';
import { loseInstance } from './lose-instance.js';
import { missingWal } from './missing-wal.js';
import { productionLost } from './production-lost.js';
import { wrongBackup } from './wrong-backup.js';

export const FAULTS = [
  dropTable,
  dropDatabase,
  killServer,
  badWrite,
  loseInstance,
  missingWal,
  corruptBackup,
  corruptPage,
  wrongBackup,
  backupDiskFull,
  dataDiskFull,
  productionLost,
] as const;

/** The `fault:` section of a parsed drill file. */
export type FaultSpec = z.output<(typeof FAULTS)[number]['schema']>;

/** The module of a fault, found by its type (the drill file's schema already matched its options to it). */
export function faultModule(type: FaultType): Fault {
  const found: Fault | undefined = FAULTS.find((f) => f.type === type);
  if (!found) throw new InternalError(`no fault module for "${type}"`);
  return found;
}
