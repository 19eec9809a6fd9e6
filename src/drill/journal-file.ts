/**
 * Keeps journal.json on disk current after every event. Each write replaces
 * the file atomically (temp file + rename), and synchronously, so the Ctrl-C
 * handler's last write lands before the process exits.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunListener } from './events.js';
import type { RunJournal } from '../model/journal.js';

const JOURNAL_FILE = 'journal.json';

export function writeJournal(dir: string, journal: RunJournal): void {
  mkdirSync(dir, { recursive: true });
  const target = join(dir, JOURNAL_FILE);
  const temp = `${target}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(journal, null, 2)}\n`);
  renameSync(temp, target);
}

export function journalFile(dir: string): RunListener {
  const write = (journal: RunJournal) => writeJournal(dir, journal);
  return {
    runStarted: write,
    drillStarted: write,
    phaseStarted: write,
    phaseEnded: write,
    drillEnded: write,
    runEnded: write,
  };
}
