/**
 * Prometheus metrics for the node exporter's textfile collector, so that
 * alerting can ask "did the restore drill pass, and when did it last pass?"
 * without reading reports. Gauges only: each run replaces the file.
 */
import { lastSuccess, type HistoryEntry } from '../history/history.js';
import type { DrillJournal, RunJournal } from '../model/journal.js';
import { passed } from '../model/outcome.js';

interface Family {
  name: string;
  help: string;
  value: (drill: DrillJournal) => number | undefined;
}

function seconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

/** When the drill finished; a drill cut off mid-run has only its start. */
function ranAt(drill: DrillJournal): string {
  return drill.endedAt ?? drill.startedAt;
}

/** Sample values as the exposition format writes them: infinities are +Inf and -Inf; milliseconds are the finest a drill measures. */
function number(value: number): string {
  return value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : String(Math.round(value * 1000) / 1000);
}

/** Label values escape backslash, double quote and newline, as the exposition format requires. */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * The textfile for one run. A value that was not measured is left out, not
 * written as 0: a 0s RTO or 0 lost rows would read as a perfect result.
 * Last success falls back to the history so that a failing run does not make
 * the drill look as if it had never passed; one that never did is 0.
 */
export function renderPrometheus(run: RunJournal, history: readonly HistoryEntry[] = []): string {
  const families: Family[] = [
    {
      name: 'drill_success',
      help: '1 when the drill completed and every check passed, 0 otherwise.',
      value: (d) => (passed(d) ? 1 : 0),
    },
    {
      name: 'drill_rto_seconds',
      help: 'Measured recovery time: from the fault to the first passing verification.',
      value: (d) => (d.rto?.measuredMs === undefined ? undefined : d.rto.measuredMs / 1000),
    },
    {
      name: 'drill_rpo_seconds',
      help: 'Measured data loss window: from the first lost acknowledged commit to the fault; +Inf when nothing the drill wrote came back.',
      value: (d) => (d.rpo?.total ? Infinity : d.rpo?.measuredMs === undefined ? undefined : d.rpo.measuredMs / 1000),
    },
    {
      name: 'drill_rpo_lost_rows',
      help: 'Acknowledged ledger rows committed before the fault and missing after recovery.',
      value: (d) => d.rpo?.lostRows,
    },
    {
      name: 'drill_rto_target_seconds',
      help: 'The RTO the drill must meet, from its drill file: alert when drill_rto_seconds exceeds it.',
      value: (d) => (d.rto ? d.rto.targetMs / 1000 : undefined),
    },
    {
      name: 'drill_rpo_target_seconds',
      help: 'The RPO the drill must meet, from its drill file; 0 means no loss allowed.',
      value: (d) => (d.rpo ? d.rpo.targetMs / 1000 : undefined),
    },
    {
      name: 'drill_last_run_timestamp_seconds',
      help: 'Unix time the drill last ran: its end, or its start when it was cut off.',
      value: (d) => seconds(ranAt(d)),
    },
    {
      name: 'drill_last_success_timestamp_seconds',
      help: 'Unix time the drill last passed, from this run or the drill history; 0 when it never passed.',
      // Never passed is 0, not absent: an age alert (time() - this > 35d) then fires for it too.
      value: (d) => {
        if (passed(d)) return seconds(ranAt(d));
        const previous = lastSuccess(history, d.name);
        return previous ? seconds(previous.endedAt) : 0;
      },
    },
  ];
  const lines: string[] = [];
  for (const family of families) {
    const samples = run.drills.flatMap((d) => {
      const value = family.value(d);
      return value === undefined ? [] : [`${family.name}{drill="${label(d.name)}"} ${number(value)}`];
    });
    // A family with no samples is left out whole; HELP and TYPE alone say nothing.
    if (samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} gauge`, ...samples);
  }
  return lines.map((l) => `${l}\n`).join('');
}
