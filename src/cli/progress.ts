/**
 * Console progress: one line per phase when it ends (a long phase also says
 * every few seconds that it is still going), each check, and a verdict per
 * drill. A start line per phase doubled the output of every CI log and said
 * nothing the end line does not.
 */
import type { RunListener } from '../drill/events.js';
import { withoutTempFolders } from '../report/text.js';
import { formatDuration } from '../support/units.js';

export function consoleProgress(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): RunListener {
  return {
    runStarted: (run) => write(`restore-drill ${run.version}: run ${run.runId}, ${run.options.drills.length} drill(s)`),
    drillStarted: (_run, drill) => write(`\n▶ ${drill.name} (${drill.file})`),
    phaseProgress: (_run, drill, phase, elapsedMs, note) => write(`    ${drill.name}: ${phase.name} ${formatDuration(elapsedMs)}${note ? ` — ${note}` : ''}`),
    phaseEnded: (_run, drill, phase) =>
      write(
        `  ${phase.status === 'ok' ? '✓' : '✗'} ${drill.name}: ${phase.name} ${formatDuration(phase.durationMs)}` +
          (phase.error ? ` — ${phase.error.split('\n')[0]}` : ''),
      ),
    drillEnded: (run, drill) => {
      // Printed after teardown: a temp folder named in full would already be gone, unless it was kept.
      const tidy = withoutTempFolders(run.runId, drill.keptFiles);
      for (const check of drill.checks) write(`    ${check.verdict.toUpperCase().padEnd(7)} ${check.name}: ${tidy(check.summary)}`);
      if (drill.error) write(`    ${drill.status}: ${tidy(drill.error.split('\n')[0]!)}`);
      write(`■ ${drill.name}: ${drill.status}, verdict ${(drill.verdict ?? 'unknown').toUpperCase()} in ${formatDuration(drill.durationMs)}`);
      if (drill.keptFiles?.length) write(`  files kept at ${drill.keptFiles.join(', ')}`);
    },
  };
}
