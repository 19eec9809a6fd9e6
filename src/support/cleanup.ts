/**
 * Nothing may be left running: every server, container and temp folder the
 * harness creates registers its cleanup here, and the CLI's signal handlers
 * run them all on Ctrl-C before exiting.
 */
type Cleanup = () => Promise<void>;

const cleanups = new Set<Cleanup>();

export function registerCleanup(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/**
 * Runs every registered cleanup once, newest first, never throwing: one failed
 * cleanup must not stop the others. A failure is reported, because a server,
 * mount or container that survives cleanup is exactly what the user must hear of.
 */
export async function runAllCleanups(report: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<void> {
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
