/**
 * The drill history: a JSON-lines file, one line per drill per run, that
 * outlives the run folders. It answers what one journal cannot: when did
 * this drill last pass, and is that recent enough to trust the backups.
 * The file is only ever appended to, so a bug or a crash in a later run
 * cannot rewrite the record of earlier ones.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { errorMessage, InputError } from '../errors.js';
import { RUN_STATUSES, type DrillJournal, type EngineRecord, type RunJournal } from '../model/journal.js';
import { passed } from '../model/outcome.js';
import { VERDICTS, type Verdict } from '../model/verdict.js';

const entrySchema = z.object({
  runId: z.string(),
  drill: z.string(),
  file: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  status: z.enum(RUN_STATUSES),
  verdict: z.enum(VERDICTS),
  // Targets live in the journal's rto/rpo, which a drill that stopped before
  // verification never gets: absent then, rather than a made-up number.
  rtoTargetMs: z.number().optional(),
  rtoMs: z.number().optional(),
  rpoTargetMs: z.number().optional(),
  rpoMs: z.number().optional(),
  lostRows: z.number().optional(),
  /** One line naming where it ran, e.g. "docker timescale/timescaledb:latest-pg16, PostgreSQL 16.4": RTO trends change with it. */
  engine: z.string().optional(),
});

export type HistoryEntry = z.infer<typeof entrySchema>;

function engineLabel(engine: EngineRecord | undefined): string | undefined {
  if (!engine) return undefined;
  const where = engine.image ? `${engine.kind} ${engine.image}` : engine.kind;
  // server_version reads like "15.18 (Debian 15.18-0+deb12u1)": the number is what matters.
  const server = engine.server ? `, PostgreSQL ${engine.server.split(' ')[0]}` : '';
  const timescale = engine.timescaledb ? `, TimescaleDB ${engine.timescaledb}` : '';
  return `${where}${server}${timescale}`;
}

function entryFor(runId: string, drill: DrillJournal & { endedAt: string }): HistoryEntry {
  return {
    runId,
    drill: drill.name,
    file: drill.file,
    startedAt: drill.startedAt,
    endedAt: drill.endedAt,
    status: drill.status,
    verdict: drill.verdict ?? 'unknown',
    rtoTargetMs: drill.rto?.targetMs,
    rtoMs: drill.rto?.measuredMs,
    rpoTargetMs: drill.rpo?.targetMs,
    rpoMs: drill.rpo?.measuredMs,
    lostRows: drill.rpo?.lostRows,
    engine: engineLabel(drill.engine),
  };
}

/**
 * One entry per finished drill. A drill without an end time is still running
 * (the journal was read mid-run); its line could never be corrected in an
 * append-only file, so it is left out.
 */
export function entriesFor(run: RunJournal): HistoryEntry[] {
  return run.drills
    .filter((d): d is DrillJournal & { endedAt: string } => d.endedAt !== undefined)
    .map((d) => entryFor(run.runId, d));
}

/**
 * Appends the run's entries in one write. If the file does not end with a
 * newline (an earlier writer died mid-line), a newline goes first, so the
 * torn line stays a malformed line of its own that readHistory reports,
 * instead of swallowing this run's first entry.
 */
export async function appendHistory(path: string, run: RunJournal): Promise<void> {
  const entries = entriesFor(run);
  if (entries.length === 0) return;
  await mkdir(dirname(path), { recursive: true });
  // 'a+': every write goes to the end whatever the position, and the last byte can be read.
  const file = await open(path, 'a+');
  try {
    const { size } = await file.stat();
    let separator = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await file.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) separator = '\n';
    }
    try {
      await file.write(separator + entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    } catch (error) {
      // Half a line would make the whole history unreadable: take the partial write back.
      await file.truncate(size).catch(() => undefined);
      throw error;
    }
  } finally {
    await file.close();
  }
}

/**
 * Every entry in file order. A missing file is an empty history (the first
 * run has none yet); blank lines are skipped; any other line that is not an
 * entry stops the read, naming the line, because silently dropping it would
 * make a drill look staler (or fresher) than it is.
 */
export async function readHistory(path: string): Promise<HistoryEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new InputError('HISTORY_INVALID', `${path}: the drill history cannot be read (${errorMessage(error)}); fix its permissions or name another with --history`);
  }
  const entries: HistoryEntry[] = [];
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let problem: string;
    try {
      const parsed = entrySchema.safeParse(JSON.parse(line));
      if (parsed.success) {
        entries.push(parsed.data);
        continue;
      }
      problem = parsed.error.issues.map((i) => `${i.path.join('.') || '(line)'}: ${i.message}`).join('; ');
    } catch (error) {
      problem = `not JSON (${(error as Error).message})`;
    }
    throw new InputError(
      'HISTORY_INVALID',
      `${path}:${index + 1}: not a drill history entry: ${problem}. ` +
        `Each line must be one JSON object written by restore-drill; fix or delete line ${index + 1} (the other lines are kept as they are).`,
    );
  }
  return entries;
}

function time(iso: string): number {
  return Date.parse(iso);
}

/**
 * The drill's results in time order (by end), oldest first; sorting is stable,
 * so equal times keep file order. A drill cut short by Ctrl-C is no result:
 * trends and staleness leave it out (the file keeps it).
 */
function runsOf(history: readonly HistoryEntry[], drill: string): HistoryEntry[] {
  return history.filter((e) => e.drill === drill && e.status !== 'interrupted').sort((a, b) => time(a.endedAt) - time(b.endedAt));
}

/** The drill's last `n` runs, newest last. */
export function lastRuns(history: readonly HistoryEntry[], drill: string, n: number): HistoryEntry[] {
  // slice(-0) would return everything.
  return n > 0 ? runsOf(history, drill).slice(-n) : [];
}

/** The newest passing entry for the drill, if it ever passed. */
export function lastSuccess(history: readonly HistoryEntry[], drill: string): HistoryEntry | undefined {
  return runsOf(history, drill).findLast(passed);
}

export interface Freshness {
  drill: string;
  /** endedAt of the newest passing run. */
  lastSuccess?: string;
  ageMs?: number;
  /** How old its last pass may be: the drill's own cadence, or the default. */
  maxAgeMs: number;
  stale: boolean;
  /** Unknown when it never ran (a drill file no run, or no shard, has covered). */
  lastVerdict: Verdict;
  neverRan?: true;
}

/** A drill the caller expects to have run (from the drill files), with its own cadence when it declares one. */
export interface ExpectedDrill {
  drill: string;
  maxAgeMs?: number;
}

/**
 * One row per drill, sorted by name: every drill in the history, and every
 * drill expected (from the drill files) whether it ran or not. A backup is
 * only as trusted as its last passing drill: stale when it never passed, or
 * when its last pass ended longer ago than its cadence (or maxAgeMs) before
 * `now`. A drill that never ran is stale, never silence: a shard that did
 * not run, a file added and forgotten.
 */
export function freshness(history: readonly HistoryEntry[], now: Date, maxAgeMs: number, expected: readonly ExpectedDrill[] = []): Freshness[] {
  const seen = history.filter((e) => e.status !== 'interrupted').map((e) => e.drill);
  const drills = [...new Set([...seen, ...expected.map((e) => e.drill)])].sort();
  return drills.map((drill) => {
    const allowed = expected.find((e) => e.drill === drill)?.maxAgeMs ?? maxAgeMs;
    const runs = runsOf(history, drill);
    if (runs.length === 0) return { drill, maxAgeMs: allowed, stale: true, lastVerdict: 'unknown', neverRan: true };
    const success = runs.findLast(passed);
    const lastVerdict = runs.at(-1)!.verdict;
    if (!success) return { drill, maxAgeMs: allowed, stale: true, lastVerdict };
    const ageMs = now.getTime() - time(success.endedAt);
    return { drill, lastSuccess: success.endedAt, ageMs, maxAgeMs: allowed, stale: ageMs > allowed, lastVerdict };
  });
}
