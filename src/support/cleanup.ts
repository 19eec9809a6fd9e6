/**
 * Nothing may be left running: every server, container and temp folder the
 * harness creates registers its cleanup here, and the CLI's signal handlers
 * run them all on Ctrl-C before exiting.
 */
type Cleanup = () => Promise<void>;

const cleanups = new Set<Cleanup>();
/** Set once the cleanup has begun: nothing new may be made after it. */
let closing = false;
/** Rounds of cleanup: what the run was making while the first round ran is registered by then, and goes in the next. */
const MAX_ROUNDS = 5;

export function registerCleanup(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** True once Ctrl-C (or a fatal output error) has begun the cleanup: code that makes folders or servers stops. */
export function closingDown(): boolean {
  return closing;
}

/**
 * Runs every registered cleanup once, newest first, never throwing: one failed
 * cleanup must not stop the others. A failure is reported, because a server,
 * mount or container that survives cleanup is exactly what the user must hear of.
 * The drill that was running goes on for a moment (it is not told at once), so
 * what it registers meanwhile is cleaned in a further round.
 */
export async function runAllCleanups(report: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<void> {
  closing = true;
  for (let round = 0; round < MAX_ROUNDS && cleanups.size > 0; round++) {
    const pending = [...cleanups].reverse();
    cleanups.clear();
    for (const cleanup of pending) {
      try {
        await cleanup();
      } catch (error) {
        report(`cleanup failed, something may be left behind: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
