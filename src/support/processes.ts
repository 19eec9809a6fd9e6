import { readFileSync } from 'node:fs';

/**
 * Whether a process of this machine still lives: how a run tells its own
 * leftovers from a live run's, and a stopped server from a running one. A
 * zombie is dead: where PID 1 reaps no orphans (a container's shell), a
 * killed daemon lingers as one, and signal 0 would call it alive.
 */
export function isAlive(pid: number): boolean {
  try {
    // "pid (comm) state ...": the state follows the last parenthesis (comm may hold any).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.charAt(stat.lastIndexOf(')') + 2));
  } catch {
    // No /proc, or this process hidden from us (hidepid): signal 0 asks.
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it lives, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
