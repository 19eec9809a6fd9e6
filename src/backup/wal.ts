/** WAL archive helpers: force a segment out, wait until it is archived, list what the archive holds. */
import { readdir } from 'node:fs/promises';
import type pg from 'pg';
import { sleep } from '../clock.js';

const SEGMENT = /^[0-9A-F]{24}$/;

/** Closes the current WAL segment and waits until the archiver has stored it. Returns its name. */
export async function switchAndWaitArchived(client: pg.Client, timeoutMs = 60_000): Promise<string> {
  const { rows } = await client.query<{ closed: string }>('select pg_walfile_name(pg_switch_wal()) as closed');
  const closed = rows[0]!.closed;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const archiver = await client.query<{ last: string | null; failed: string | null }>(
      'select last_archived_wal as last, last_failed_wal as failed from pg_stat_archiver',
    );
    const last = archiver.rows[0]!.last;
    if (last && last >= closed) return closed;
    await sleep(100);
  }
  throw new Error(`WAL segment ${closed} was not archived within ${timeoutMs} ms (pg_stat_archiver shows no progress; check archive_command)`);
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
