/** A server's log, kept in the run's folder as postgresql-<instance>.log: evidence that outlives the instance. */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

function serverLogPath(logDir: string, instance: string): string {
  return join(logDir, `postgresql-${instance}.log`);
}

/** Keeps the log from a file (native) or from its text (a container's). Never throws: the log is evidence, not a reason to stop cleaning up. */
export async function keepServerLog(logDir: string, instance: string, from: { file: string } | { text: string }): Promise<boolean> {
  try {
    await mkdir(logDir, { recursive: true });
    if ('file' in from) await copyFile(from.file, serverLogPath(logDir, instance));
    else await writeFile(serverLogPath(logDir, instance), from.text);
    return true;
  } catch {
    return false;
  }
}
