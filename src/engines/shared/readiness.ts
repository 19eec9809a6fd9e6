/**
 * Readiness by probe, never by reading a log line: a real `select 1` over the
 * connection the drill will use, retried until a deadline, giving up early
 * when the server is known to be gone.
 */
import { sleep } from '../../support/clock.js';
import { errorMessage, RecoveryError, SetupError } from '../../errors.js';
import { connectTo, type ConnectionInfo } from '../../pg/client.js';

export interface ProbeOptions {
  name: string;
  timeoutMs: number;
  /** Returns why the server cannot come up any more (it exited), or undefined while it may. */
  gone: () => Promise<string | undefined>;
  /** Text appended to the error: the server log's tail. */
  logTail: () => Promise<string>;
  /** What the user may change when the server never answers, where the engine knows a likely cause. */
  hint?: string;
}

/** How long after the first ask the asks stay 10 ms apart. */
const FAST_PROBING_MS = 1_000;

/**
 * Asks `notReady` over a fresh connection until it answers undefined (ready),
 * the server is gone, or the deadline passes. Returns why it never got ready.
 * For its first second it asks every 10 ms, then the waits double up to
 * `intervalMs`: a server starts in a few tenths of a second, and each wait
 * adds up to its own length to the start. Doubling from the first ask put
 * 100 ms between asks by a quarter second, and a native start from the seed
 * cache took 0.40 s or 0.52 s by which side of a wait the server came up on.
 * An early ask costs a refused connection, or a backend that says "starting
 * up".
 */
async function probe(
  connection: () => ConnectionInfo,
  options: ProbeOptions,
  intervalMs: number,
  notReady: (client: Awaited<ReturnType<typeof connectTo>>) => Promise<string | undefined>,
): Promise<string | undefined> {
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  let lastError = 'no answer yet';
  for (let wait = Math.min(10, intervalMs); performance.now() < deadline; wait = performance.now() - started < FAST_PROBING_MS ? wait : Math.min(wait * 2, intervalMs)) {
    const gone = await options.gone();
    if (gone) return gone;
    try {
      const client = await connectTo(connection(), 'postgres');
      const reason = await notReady(client).finally(() => client.end());
      if (reason === undefined) return undefined;
      lastError = reason;
    } catch (error) {
      lastError = errorMessage(error);
    }
    await sleep(wait);
  }
  return lastError;
}

/** The server's last FATAL or PANIC line, which says why it stopped (a preloaded library missing, a bad setting), for the error's first line. */
function lastWords(log: string): string {
  const said = log.split('\n').findLast((line) => /\b(FATAL|PANIC):/.test(line));
  return said ? `; the server said: ${said.slice(said.search(/\b(FATAL|PANIC):/))}` : '';
}

export async function waitForSelect1(connection: () => ConnectionInfo, options: ProbeOptions): Promise<void> {
  const failure = await probe(connection, options, 100, async (client) => void (await client.query('select 1')));
  if (failure === undefined) return;
  const log = await options.logTail();
  throw new SetupError(
    'SERVER_START_FAILED',
    `PostgreSQL instance "${options.name}" did not accept connections on port ${connection().port} (last probe: ${failure}${lastWords(log)}).${options.hint ? ` ${options.hint}.` : ''} Server log:\n${log}`,
  );
}

/** After archive recovery or a promotion: wait until pg_is_in_recovery() is false. */
export async function waitForPromotion(connection: () => ConnectionInfo, options: ProbeOptions): Promise<void> {
  const failure = await probe(connection, options, 200, async (client) => {
    const { rows } = await client.query<{ recovering: boolean }>('select pg_is_in_recovery() as recovering');
    return rows[0]!.recovering ? 'still in recovery' : undefined;
  });
  if (failure === undefined) return;
  const log = await options.logTail();
  throw new RecoveryError(`PostgreSQL instance "${options.name}" did not finish recovery (last probe: ${failure}${lastWords(log)}). Server log:\n${log}`);
}
