/** The backup methods. A new method is one module and one line here. */
import type { z } from 'zod';
import { InternalError } from '../errors.js';
import type { BackupMethodName } from '../model/artifact.js';
import { existing } from './existing.js';
import { existingBaseBackup } from './existing-base-backup.js';
import { existingPgbackrest } from './existing-pgbackrest.js';
import type { BackupMethod } from './method.js';
import { pgBasebackup } from './pg-basebackup.js';
import { pgDump } from './pg-dump.js';
import { pgbackrest } from './pgbackrest.js';
import { script } from './script.js';
import { scriptBaseBackup } from './script-base-backup.js';
import { standby } from './standby.js';

export const BACKUP_METHODS = [pgDump, pgBasebackup, pgbackrest, standby, script, scriptBaseBackup, existing, existingBaseBackup, existingPgbackrest] as const;

/** The `backup:` section of a parsed drill file. */
export type BackupSpec = z.output<(typeof BACKUP_METHODS)[number]['schema']>;

/** The module of a method, found by its name (the drill file's schema already matched its options to it). */
export function backupMethod(name: BackupMethodName): BackupMethod {
  const found: BackupMethod | undefined = BACKUP_METHODS.find((m) => m.method === name);
  if (!found) throw new InternalError(`no backup method module for "${name}"`);
  return found;
}
