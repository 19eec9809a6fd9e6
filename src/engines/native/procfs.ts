/**
 * What the native engine reads from Linux's /proc: whether it may mount, the postmaster's pid, and whether a process group still has live members.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { liveState, statFields } from '../../support/processes.js';

/** Whether this process may mount a filesystem: CAP_SYS_ADMIN in its effective set, which root in a container usually lacks. */
export async function mayMount(): Promise<boolean> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  const CAP_SYS_ADMIN = 21n;
  return effective !== undefined && ((BigInt(`0x${effective}`) >> CAP_SYS_ADMIN) & 1n) === 1n;
}

export async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const first = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0];
    const pid = Number(first);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether any live (non-zombie) process is left in a process group; the postmaster leads its own. */
export async function groupAlive(pgid: number): Promise<boolean> {
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const [state, , pgrp] = statFields(await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''));
    if (Number(pgrp) === pgid && liveState(state)) return true;
  }
  return false;
}
