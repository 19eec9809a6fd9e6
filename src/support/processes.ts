import { readFileSync } from 'node:fs';

/** "pid (comm) state ppid pgrp ..." of /proc/PID/stat: the fields after comm (which may hold spaces and parentheses), state first. */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Whether a process in this state still lives: a zombie (Z) or a dead one (X) only waits to be reaped. */
export function liveState(state: string | undefined): boolean {
  return state !== 'Z' && state !== 'X';
}

/**
 * Whether a process of this machine still lives: how a run tells its own
 * leftovers from a live run's, and a stopped server from a running one. A
 * zombie is dead: where PID 1 reaps no orphans (a container's shell), a
 * killed daemon lingers as one, and signal 0 would call it alive.
 */
export function isAlive(pid: number): boolean {
  try {
    return liveState(statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[0]);
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
