/**
 * RTO and phase durations are measured on a monotonic clock (immune to NTP
 * steps); wall-clock ISO times are kept beside them for humans and for
 * correlating with server logs.
 */
import { performance } from 'node:perf_hooks';

export interface Instant {
  /** Monotonic milliseconds since process start. */
  mono: number;
  /** Wall-clock time, ISO 8601 UTC. */
  wall: string;
}

export function now(): Instant {
  return { mono: performance.now(), wall: new Date().toISOString() };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asks `holds` every `intervalMs` until it is false (true is returned) or `timeoutMs` has passed (false). */
export async function waitWhile(holds: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (await holds()) {
    if (performance.now() > deadline) return false;
    await sleep(intervalMs);
  }
  return true;
}
