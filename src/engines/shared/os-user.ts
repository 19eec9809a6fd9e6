/**
 * PostgreSQL refuses to run as root. When the harness is root, servers and
 * tools run as an unprivileged OS user (default `postgres`) and the folders
 * they write to are handed to that user.
 */
import { execFileSync } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { SetupError } from '../../errors.js';

const OS_USER_ENV = 'RESTORE_DRILL_OS_USER';

export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

/** The user to run PostgreSQL as, or undefined when the harness is not root. */
export function unprivilegedUser(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const user = process.env[OS_USER_ENV] ?? 'postgres';
  try {
    // One `id` for both numbers: each is a process start, and an engine is made per run.
    const ids = /^uid=(\d+)\S* gid=(\d+)/.exec(execFileSync('id', [user], { encoding: 'utf8' }));
    if (!ids) throw new Error('unexpected output of id');
    return { user, uid: Number(ids[1]), gid: Number(ids[2]) };
  } catch {
    throw new SetupError(
      'PG_USER_MISSING',
      `restore-drill runs as root, and PostgreSQL refuses to run as root, but the OS user "${user}" does not exist. ` +
        `Create it (useradd --system ${user}), set ${OS_USER_ENV} to another unprivileged user, or run as a normal user.`,
    );
  }
}

/** Hands a folder the harness created to the user PostgreSQL runs as. */
export async function handOver(path: string, runAs: RunAs | undefined): Promise<void> {
  if (runAs) await chown(path, runAs.uid, runAs.gid);
}
