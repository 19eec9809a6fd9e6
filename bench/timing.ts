/** The bench's small tools: timing, medians, and the machine a figure was taken on. */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** A launched instance, as far as the ready figures need it: removed untimed after it answered. */
interface Launched {
  destroy(options: { keepFiles: boolean }): Promise<unknown>;
}

/**
 * Milliseconds from asking for an instance to its accepting connections, one
 * per round: each is removed untimed before the next is asked for (its
 * removal is no part of being ready), then `settle` runs untimed.
 */
export async function readyRounds(rounds: number, launch: () => Promise<Launched>, settle: () => Promise<unknown>): Promise<number[]> {
  let last: Launched | undefined;
  const removeLast = async () => {
    const removing = last;
    last = undefined;
    await removing?.destroy({ keepFiles: false });
  };
  try {
    return await roundsOf(
      rounds,
      async () => (last = await launch()),
      async () => {
        await removeLast();
        await settle();
      },
    );
  } finally {
    await removeLast();
  }
}

/** A work to time, with what must come untimed before each run of it. */
export interface Timed {
  work: () => Promise<unknown>;
  prepare?: () => Promise<unknown>;
}

/**
 * Two works timed in turns (A B, B A, A B ...), each one's milliseconds per
 * round, so a machine that speeds up or slows down during the run weighs on
 * both alike: timed all of one then all of the other, the second took the
 * drift alone.
 */
export async function inTurn(rounds: number, a: Timed, b: Timed): Promise<[number[], number[]]> {
  const times: [number[], number[]] = [[], []];
  for (let round = 0; round < rounds; round++) {
    for (const which of round % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) {
      const { work, prepare } = which === 0 ? a : b;
      await prepare?.();
      times[which].push(await timed(work));
    }
  }
  return times;
}

/**
 * The median of each round's ratio, harness over raw. A round's two works ran
 * one after the other, so what the machine did at that moment weighs on
 * both; a ratio of the two medians would pair a fast round of one with a
 * slow round of the other.
 */
export function pairedRatio(harness: readonly number[], raw: readonly number[]): number {
  return median(harness.map((ms, round) => ms / raw[round]!));
}

/** Milliseconds of each of `rounds` runs of `work`, `prepare` untimed before each. */
export async function roundsOf(rounds: number, work: () => Promise<unknown>, prepare?: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    await prepare?.();
    times.push(await timed(work));
  }
  return times;
}

export function machine(postgres: string): Record<string, string | number> {
  const commit = (() => {
    try {
      return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  })();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres,
    commit,
  };
}
