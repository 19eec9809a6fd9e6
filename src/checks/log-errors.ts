/**
 * "No errors in logs", the runbooks' last checklist item: the ERROR, FATAL and
 * PANIC lines the servers logged between the end of recovery and the start of
 * teardown. What a fault made them say before is expected, and so is what
 * they say when the harness itself stops them (background workers terminated
 * "due to administrator command"). Log lines start with their time (%m).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const SEVERE = /\b(ERROR|FATAL|PANIC):/;
const STAMP = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC/;

export async function logErrorsAfter(logDir: string, since: string, until: string | undefined, limit = 20): Promise<string[]> {
  const after = Date.parse(since);
  const before = until === undefined ? Infinity : Date.parse(until);
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
      const at = stamp ? Date.parse(`${stamp.replace(' ', 'T')}Z`) : NaN;
      if (!stamp || !SEVERE.test(line) || at <= after || at >= before) continue;
      found.push(`${name}: ${line}`);
      if (found.length >= limit) return found;
    }
  }
  return found;
}
