/**
 * Keeps journal.json on disk current after every event. Each write replaces
 * the file atomically (temp file + rename), and synchronously, so the Ctrl-C
 * handler's last write lands before the process exits.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomicallySync } from '../support/files.js';
import type { RunListener } from './events.js';
import type { RunJournal } from '../model/journal.js';

const JOURNAL_FILE = 'journal.json';
const RESERVE_FILE = '.journal-reserve';
/** Far more than a journal's last write needs (journals are tens of KiB). */
const RESERVE_BYTES = 1024 * 1024;

/**
 * Room set aside beside the journal while the run lasts: when the disk fills,
 * it is released, and the journal can still say what happened.
 */
export async function reserveRoom(dir: string): Promise<void> {
  await writeFile(join(dir, RESERVE_FILE), Buffer.alloc(RESERVE_BYTES));
}

export function releaseRoom(dir: string): void {
  rmSync(join(dir, RESERVE_FILE), { force: true });
}

export function writeJournal(dir: string, journal: RunJournal): void {
  mkdirSync(dir, { recursive: true });
  writeFileAtomicallySync(join(dir, JOURNAL_FILE), `${JSON.stringify(journal, null, 2)}\n`);
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
