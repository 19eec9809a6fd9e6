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

/**
 * Median milliseconds from asking for an instance to its accepting
 * connections: each is removed untimed before the next is asked for (its
 * removal is no part of being ready).
 */
export async function medianReady(rounds: number, launch: () => Promise<{ destroy(options: { keepFiles: boolean }): Promise<unknown> }>): Promise<number> {
  let last: { destroy(options: { keepFiles: boolean }): Promise<unknown> } | undefined;
  const removeLast = async () => {
    const removing = last;
    last = undefined;
    await removing?.destroy({ keepFiles: false });
  };
  try {
    return await medianOf(rounds, async () => (last = await launch()), removeLast);
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
 * Medians of two works timed in turns (A B, B A, A B ...), so a machine that
 * speeds up or slows down during the run weighs on both alike: timed all of
 * one then all of the other, the second took the drift alone.
 */
export async function mediansInTurn(rounds: number, a: Timed, b: Timed): Promise<[number, number]> {
  const times: [number[], number[]] = [[], []];
  for (let round = 0; round < rounds; round++) {
    for (const which of round % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) {
      const { work, prepare } = which === 0 ? a : b;
      await prepare?.();
      times[which].push(await timed(work));
    }
  }
  return [median(times[0]), median(times[1])];
}

/** Median milliseconds of `rounds` runs of `work`, `prepare` untimed before each. */
export async function medianOf(rounds: number, work: () => Promise<unknown>, prepare?: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    await prepare?.();
    times.push(await timed(work));
  }
  return median(times);
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
