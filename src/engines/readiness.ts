/**
 * Readiness by probe, never by reading a log line: a real `select 1` over the
 * connection the drill will use, retried until a deadline, giving up early
 * when the server is known to be gone.
 */
import { sleep } from '../clock.js';
import { errorMessage, SetupError } from '../errors.js';
import { connectTo, type ConnectionInfo } from './instance.js';

export interface ProbeOptions {
  name: string;
  timeoutMs: number;
  /** Returns why the server cannot come up any more (it exited), or undefined while it may. */
  gone: () => Promise<string | undefined>;
  /** Text appended to the error: the server log's tail. */
  logTail: () => Promise<string>;
}

export async function waitForSelect1(connection: () => ConnectionInfo, options: ProbeOptions): Promise<void> {
  const deadline = performance.now() + options.timeoutMs;
  let lastError = 'no answer yet';
  while (performance.now() < deadline) {
    const gone = await options.gone();
    if (gone) {
      lastError = gone;
      break;
    }
    try {
      const client = await connectTo(connection(), 'postgres');
      await client.query('select 1');
      await client.end();
      return;
    } catch (error) {
      lastError = errorMessage(error);
    }
    await sleep(100);
  }
  throw new SetupError(
    'SERVER_START_FAILED',
    `PostgreSQL instance "${options.name}" did not accept connections on port ${connection().port} ` +
      `(last probe: ${lastError}). Server log:\n${await options.logTail()}`,
  );
}

/** After archive recovery or a promotion: wait until pg_is_in_recovery() is false. */
export async function waitForPromotion(connection: () => ConnectionInfo, options: ProbeOptions): Promise<void> {
  const deadline = performance.now() + options.timeoutMs;
  let lastError = 'still in recovery';
  while (performance.now() < deadline) {
    const gone = await options.gone();
    if (gone) {
      lastError = gone;
      break;
    }
    try {
      const client = await connectTo(connection(), 'postgres');
      const { rows } = await client.query<{ recovering: boolean }>('select pg_is_in_recovery() as recovering');
      await client.end();
      if (!rows[0]!.recovering) return;
      lastError = 'still in recovery';
    } catch (error) {
      lastError = errorMessage(error);
    }
    await sleep(200);
  }
  throw new SetupError(
    'RECOVERY_FAILED',
    `PostgreSQL instance "${options.name}" did not finish recovery (last probe: ${lastError}). Server log:\n${await options.logTail()}`,
  );
}
