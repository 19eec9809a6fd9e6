/** Reading a custom-format archive with the instance's own pg_restore. */
import type { Instance } from '../engines/types.js';

/** `pg_restore --list`: the archive's table of contents. */
export async function archiveList(instance: Instance, dump: string): Promise<string> {
  return (await instance.runPgTool('pg_restore', ['--list', dump])).stdout;
}
