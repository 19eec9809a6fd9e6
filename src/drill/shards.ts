/**
 * Drills split across CI jobs (`run --shard K/N`) and put back together
 * (`merge-reports`). The split is deterministic and balanced by each drill's
 * last duration in the history; a file run at several scales stays in one
 * shard (its projection needs every size). The merge trusts nothing it cannot
 * check: every shard's folder must verify against its manifest, the shards
 * must agree on N and on the drills, and every drill must be run by exactly
 * one shard. A shard that never ran is a missing drill, named, not silence.
 */
import { cp, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { verifyEvidence } from '../evidence/bundle.js';
import { InputError } from '../errors.js';
import type { HistoryEntry } from '../history/history.js';
import { JOURNAL_SCHEMA_VERSION, type RunJournal, type RunStatus } from '../model/journal.js';
import { runVerdict } from '../model/outcome.js';
import { sha256File } from '../support/sha256.js';
import { VERSION } from '../support/version.js';
import type { LoadedDrill } from './spec.js';

export interface Shard {
  index: number;
  count: number;
}

/** `K/N`, 1 ≤ K ≤ N: anything else (a CI variable that was never set gives "/3") is a usage error, never "run everything". */
export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index < 1 || index > count) {
    throw new InputError('USAGE', `--shard: expected K/N with 1 ≤ K ≤ N (e.g. --shard 2/3), got "${text}"; in CI, check that the shard index variable is set`);
  }
  return { index, count };
}

/** A drill's weight for the split: its last run's duration, or the typical one when it never ran. */
function weights(units: string[][], history: readonly HistoryEntry[]): number[] {
  const last = new Map<string, number>();
  for (const entry of history) last.set(entry.drill, Date.parse(entry.endedAt) - Date.parse(entry.startedAt));
  const known = [...last.values()].filter((ms) => Number.isFinite(ms) && ms > 0).sort((a, b) => a - b);
  const typical = known.length ? known[Math.floor(known.length / 2)]! : 60_000;
  return units.map((unit) => unit.reduce((sum, name) => sum + (last.get(name) ?? typical), 0));
}

/**
 * The drills shard K of N owns, in their original order. Longest first onto
 * the least-loaded shard (ties: the lower index), so every shard computes the
 * same split from the same files and history.
 */
export function shardDrills(drills: readonly LoadedDrill[], shard: Shard, history: readonly HistoryEntry[]): LoadedDrill[] {
  const unitOf = (d: LoadedDrill) => d.projection?.name ?? d.spec.name;
  const unitNames = [...new Set(drills.map(unitOf))];
  const units = unitNames.map((unit) => drills.filter((d) => unitOf(d) === unit).map((d) => d.spec.name));
  const weight = weights(units, history);
  const order = unitNames.map((_, i) => i).sort((a, b) => weight[b]! - weight[a]! || unitNames[a]!.localeCompare(unitNames[b]!));
  const load = Array<number>(shard.count).fill(0);
  const owner = new Map<string, number>();
  for (const i of order) {
    const least = load.indexOf(Math.min(...load));
    load[least]! += weight[i]!;
    owner.set(unitNames[i]!, least + 1);
  }
  return drills.filter((d) => owner.get(unitOf(d)) === shard.index);
}

interface ShardRun {
  folder: string;
  journal: RunJournal;
  manifestSha256: string;
  signature: string;
}

async function readShard(folder: string, publicKey: string | undefined): Promise<ShardRun> {
  const verdict = await verifyEvidence(folder, { publicKey });
  if (!verdict.ok) throw new InputError('EVIDENCE_INVALID', `${folder}: does not match its manifest, so it cannot be merged: ${verdict.problems.join('; ')}`);
  if (publicKey && verdict.signature !== 'valid') throw new InputError('EVIDENCE_INVALID', `${folder}: not signed by ${publicKey} (signature ${verdict.signature})`);
  const journal = JSON.parse(await readFile(join(folder, 'journal.json'), 'utf8')) as RunJournal;
  if (!journal.shard) throw new InputError('USAGE', `${folder}: run ${journal.runId} was not a shard (run --shard K/N); only shards' folders can be merged`);
  return { folder, journal, manifestSha256: await sha256File(join(folder, 'manifest.json')), signature: verdict.signature };
}

/** The worst of the shards' statuses: a merged run completed only when every shard did. */
function mergedStatus(statuses: RunStatus[]): RunStatus {
  for (const status of ['aborted', 'interrupted', 'running'] as const) if (statuses.includes(status)) return status;
  return 'completed';
}

/**
 * The shards' journals as one run, checked first. Copies each drill's own
 * folder (its drill file and server logs) from its shard into `into`.
 */
export async function mergeShards(folders: readonly string[], into: string, runId: string, publicKey?: string): Promise<RunJournal> {
  if (folders.length === 0) throw new InputError('USAGE', 'merge-reports: name the shards\' run folders, e.g. restore-drill merge-reports shard-1/reports/<run-id> shard-2/reports/<run-id>');
  const shards: ShardRun[] = [];
  for (const folder of folders) shards.push(await readShard(folder, publicKey));
  const counts = [...new Set(shards.map((s) => s.journal.shard!.count))];
  if (counts.length > 1) throw new InputError('USAGE', `merge-reports: the shards disagree on how many there are (${counts.join(' vs ')}): ${shards.map((s) => `${s.folder} says ${s.journal.shard!.index}/${s.journal.shard!.count}`).join(', ')}`);
  const all = shards[0]!.journal.shard!.all;
  const other = shards.find((s) => s.journal.shard!.all.join('\n') !== all.join('\n'));
  if (other) throw new InputError('USAGE', `merge-reports: ${other.folder} split other drills than ${shards[0]!.folder}; run every shard on the same drill files`);
  const problems: string[] = [];
  const indexes = shards.map((s) => s.journal.shard!.index);
  for (let k = 1; k <= counts[0]!; k++) {
    const n = indexes.filter((i) => i === k).length;
    if (n === 0) problems.push(`shard ${k}/${counts[0]} is missing (its drills: ${all.filter((d) => !shards.some((s) => s.journal.drills.some((r) => r.name === d))).join(', ') || 'none'})`);
    if (n > 1) problems.push(`shard ${k}/${counts[0]} is given ${n} times`);
  }
  const ranBy = new Map<string, string[]>();
  for (const shard of shards) for (const drill of shard.journal.drills) ranBy.set(drill.name, [...(ranBy.get(drill.name) ?? []), shard.folder]);
  const missing = all.filter((name) => !ranBy.has(name));
  const twice = [...ranBy].filter(([, by]) => by.length > 1).map(([name, by]) => `${name} (in ${by.join(' and ')})`);
  const foreign = [...ranBy.keys()].filter((name) => !all.includes(name));
  if (missing.length) problems.push(`no shard ran ${missing.join(', ')}`);
  if (twice.length) problems.push(`run more than once: ${twice.join(', ')}`);
  if (foreign.length) problems.push(`not among the drills split: ${foreign.join(', ')}`);
  if (problems.length) throw new InputError('USAGE', `merge-reports: ${problems.join('; ')}`);

  const drills = all.map((name) => shards.flatMap((s) => s.journal.drills).find((d) => d.name === name)!);
  for (const shard of shards) {
    for (const drill of shard.journal.drills) await cp(join(shard.folder, drill.name), join(into, drill.name), { recursive: true, errorOnExist: false }).catch(() => undefined);
  }
  const journals = shards.map((s) => s.journal);
  const byIndex = [...shards].sort((a, b) => a.journal.shard!.index - b.journal.shard!.index);
  return {
    tool: 'restore-drill',
    schemaVersion: JOURNAL_SCHEMA_VERSION,
    version: VERSION,
    runId,
    status: mergedStatus(journals.map((j) => j.status)),
    verdict: runVerdict(drills),
    startedAt: journals.map((j) => j.startedAt).sort()[0]!,
    endedAt: journals.map((j) => j.endedAt ?? j.startedAt).sort().at(-1)!,
    host: { hostname: hostname(), platform: `${process.platform}-${process.arch}`, node: process.version, pid: process.pid },
    options: { keep: false, binDir: null, drills: [...new Set(journals.flatMap((j) => j.options.drills))] },
    merged: {
      shards: byIndex.map((s) => ({ index: s.journal.shard!.index, runId: s.journal.runId, folder: s.folder, manifestSha256: s.manifestSha256, signature: s.signature })),
    },
    drills,
  };
}
