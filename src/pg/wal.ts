/**
 * WAL knowledge: force a segment out and wait until it is archived, list what
 * an archive folder holds, find its gaps, and read where replay stopped from a
 * timeline history file.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { sleep } from '../support/clock.js';

const SEGMENT = /^[0-9A-F]{24}$/;

/** Closes the current WAL segment and waits until the archiver has stored it. Returns its name, and whether it was archived in time. */
export async function switchAndWaitArchived(client: pg.Client, timeoutMs = 60_000): Promise<{ closed: string; archived: boolean }> {
  const { rows } = await client.query<{ closed: string }>('select pg_walfile_name(pg_switch_wal()) as closed');
  const closed = rows[0]!.closed;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const archiver = await client.query<{ last: string | null }>('select last_archived_wal as last from pg_stat_archiver');
    const last = archiver.rows[0]!.last;
    if (last && last >= closed) return { closed, archived: true };
    await sleep(100);
  }
  return { closed, archived: false };
}

/** The segment files in an archive folder, in WAL order. */
export async function archivedSegments(archiveDir: string): Promise<string[]> {
  return (await readdir(archiveDir)).filter((name) => SEGMENT.test(name)).sort();
}

/** A segment's position in the WAL: its log and segment numbers, as one number, for a given segment size. */
function position(segment: string, segmentBytes: number): { timeline: string; n: number } {
  const perLog = 0x1_0000_0000 / segmentBytes;
  return { timeline: segment.slice(0, 8), n: parseInt(segment.slice(8, 16), 16) * perLog + parseInt(segment.slice(16, 24), 16) };
}

function segmentName(timeline: string, n: number, segmentBytes: number): string {
  const perLog = 0x1_0000_0000 / segmentBytes;
  const hex = (v: number) => v.toString(16).toUpperCase().padStart(8, '0');
  return `${timeline}${hex(Math.floor(n / perLog))}${hex(n % perLog)}`;
}

/**
 * The segments missing from the archive between the one a base backup ended
 * in and the newest archived on the same timeline: replay cannot pass a gap.
 */
export function archiveGaps(segments: readonly string[], fromSegment: string, segmentBytes: number): { checked: number; last?: string; missing: string[] } {
  const from = position(fromSegment, segmentBytes);
  const present = new Set(segments);
  const later = segments.filter((s) => s.startsWith(from.timeline) && s >= fromSegment);
  const last = later.at(-1);
  if (!last) return { checked: 0, missing: [] };
  const missing: string[] = [];
  for (let n = from.n + 1; n < position(last, segmentBytes).n; n++) {
    const name = segmentName(from.timeline, n, segmentBytes);
    if (!present.has(name)) missing.push(name);
  }
  return { checked: position(last, segmentBytes).n - from.n, last, missing };
}

/** Where replay stopped: the switch point a promotion wrote into the new timeline's history file. */
export async function replayStop(dataDir: string): Promise<{ timeline: number; stoppedAt: string; reason: string } | undefined> {
  const histories = (await readdir(join(dataDir, 'pg_wal'))).filter((f) => /^[0-9A-F]{8}\.history$/.test(f)).sort();
  const newest = histories.at(-1);
  if (!newest) return undefined;
  const last = (await readFile(join(dataDir, 'pg_wal', newest), 'utf8')).trim().split('\n').at(-1)!;
  const [parent, lsn, ...reason] = last.split('\t');
  return { timeline: parseInt(newest.slice(0, 8), 16), stoppedAt: lsn!, reason: `${reason.join(' ')} (switched from timeline ${parent})` };
}
