/**
 * A run whose harness died without a word (SIGKILL, a crash, a power cut)
 * leaves a journal that says `running` for ever. The next run in the same
 * reports folder finds it and says what happened: interrupted, its drills
 * unknown, the moment the journal was last written as its end. Nothing it
 * did not finish becomes a finding.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { RunJournal } from '../model/journal.js';
import { isAlive } from '../support/processes.js';
import { releaseRoom, writeJournal } from './journal-file.js';

/** Marks every abandoned run in the reports folder interrupted; returns their folders. */
export async function markAbandonedRuns(reportsDir: string, by: string): Promise<string[]> {
  const marked: string[] = [];
  const names = await readdir(reportsDir).catch(() => [] as string[]);
  for (const name of names.sort()) {
    const dir = join(reportsDir, name);
    const path = join(dir, 'journal.json');
    let journal: RunJournal;
    let lastWritten: Date;
    try {
      journal = JSON.parse(await readFile(path, 'utf8')) as RunJournal;
      lastWritten = (await stat(path)).mtime;
    } catch {
      continue; // Not a run folder, or not one we can read: not ours to change.
    }
    // A run on another machine, or one whose harness lives (a concurrent run), is left alone.
    if (journal.status !== 'running' || journal.host?.hostname !== hostname() || isAlive(journal.host.pid)) continue;
    const endedAt = lastWritten.toISOString();
    const why = `the harness (pid ${journal.host.pid}) ended without finishing the run (killed or crashed); marked interrupted by run ${by}`;
    for (const drill of journal.drills.filter((d) => d.status === 'running')) {
      for (const phase of drill.phases.filter((p) => p.status === 'running')) Object.assign(phase, { status: 'failed', endedAt, error: 'interrupted' });
      Object.assign(drill, { status: 'interrupted', verdict: 'unknown', endedAt });
    }
    Object.assign(journal, { status: 'interrupted', verdict: 'unknown', endedAt, error: why });
    writeJournal(dir, journal);
    releaseRoom(dir);
    marked.push(dir);
  }
  return marked;
}
