/**
 * Removes what a crashed or killed earlier run left behind: its servers are
 * killed, its tmpfs unmounted and its temp folders deleted, once the harness
 * process that made them is gone.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '../../support/processes.js';
import { removeOrphanedWorkDirs } from '../shared/workdir.js';
import { unmountAll } from '../shared/mounts.js';
import { postmasterPid } from './procfs.js';

/** Returns the folders removed. With `kept`, also the folders runs kept on purpose (`restore-drill clean`). */
export function removeLeftovers(workRoot = tmpdir(), options: { kept?: boolean } = {}): Promise<string[]> {
  return removeOrphanedWorkDirs(
    workRoot,
    async (dir) => {
      const pid = await postmasterPid(join(dir, 'data'));
      if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
      await unmountAll(dir, { inside: true });
    },
    options,
  );
}
