/** Console progress: one line per phase as it starts and ends, and a verdict per drill. */
import type { RunListener } from '../drill/events.js';
import { formatDuration } from '../support/units.js';

export function consoleProgress(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): RunListener {
  return {
    runStarted: (run) => write(`restore-drill ${run.version}: run ${run.runId}, ${run.options.drills.length} drill(s)`),
    drillStarted: (_run, drill) => write(`\n▶ ${drill.name} (${drill.file})`),
    phaseStarted: (_run, drill, phase) => write(`  … ${drill.name}: ${phase.name}`),
    phaseProgress: (_run, drill, phase, elapsedMs, note) => write(`    ${drill.name}: ${phase.name} ${formatDuration(elapsedMs)}${note ? ` — ${note}` : ''}`),
    phaseEnded: (_run, drill, phase) =>
      write(
        `  ${phase.status === 'ok' ? '✓' : '✗'} ${drill.name}: ${phase.name} ${formatDuration(phase.durationMs)}` +
          (phase.error ? ` — ${phase.error.split('\n')[0]}` : ''),
      ),
    drillEnded: (_run, drill) => {
      for (const check of drill.checks) write(`    ${check.verdict.toUpperCase().padEnd(7)} ${check.name}: ${check.summary}`);
      if (drill.error) write(`    ${drill.status}: ${drill.error.split('\n')[0]}`);
      write(`■ ${drill.name}: ${drill.status}, verdict ${(drill.verdict ?? 'unknown').toUpperCase()} in ${formatDuration(drill.durationMs)}`);
      if (drill.keptFiles?.length) write(`  files kept at ${drill.keptFiles.join(', ')}`);
    },
  };
}
