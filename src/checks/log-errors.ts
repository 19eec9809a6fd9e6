/**
 * "No errors in logs", the runbooks' last checklist item: the ERROR, FATAL and
 * PANIC lines the servers logged after recovery ended (what a fault made them
 * say before that is expected). Log lines start with their time (%m).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const SEVERE = /\b(ERROR|FATAL|PANIC):/;
const STAMP = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC/;

export async function logErrorsAfter(logDir: string, since: string, limit = 20): Promise<string[]> {
  const after = Date.parse(since);
  const found: string[] = [];
  let names: string[];
  try {
    names = (await readdir(logDir)).filter((n) => n.endsWith('.log')).sort();
  } catch {
    return found;
  }
  for (const name of names) {
    for (const line of (await readFile(join(logDir, name), 'utf8')).split('\n')) {
      const stamp = STAMP.exec(line)?.[1];
      if (!stamp || !SEVERE.test(line) || Date.parse(`${stamp.replace(' ', 'T')}Z`) <= after) continue;
      found.push(`${name}: ${line}`);
      if (found.length >= limit) return found;
    }
  }
  return found;
}
