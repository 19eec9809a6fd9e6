/**
 * Things an engine does that are not one command it runs (a server started in
 * the background and found ready by probe, a container started through
 * testcontainers) are recorded in the journal like commands, so the timeline
 * shows them with their duration and outcome.
 */
import { errorMessage } from '../../errors.js';
import { settle, type CommandContext } from '../../exec/command.js';

export async function recorded<T>(ctx: CommandContext, command: (result: T | undefined) => string, work: () => Promise<T>): Promise<T> {
  const startedAt = new Date().toISOString();
  const began = performance.now();
  let result: T | undefined;
  let failure: unknown;
  try {
    result = await work();
  } catch (error) {
    failure = error;
  }
  settle(
    {
      escapedCommand: command(result),
      startedAt,
      durationMs: performance.now() - began,
      exitCode: failure ? 1 : 0,
      timedOut: false,
      stdout: '',
      stderr: failure ? errorMessage(failure) : '',
    },
    ctx,
    { allowFailure: true },
  );
  if (failure) throw failure;
  return result as T;
}
