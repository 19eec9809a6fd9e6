/**
 * The numbers behind the report's charts, worked out once: report.md draws
 * them with Mermaid (charts-mermaid.ts), report.html with inline SVG
 * (charts-svg.ts), so both show the same bars, lines and marks.
 */
import type { DrillJournal, RunJournal } from '../model/journal.js';
import { whyNotPassed } from './failures.js';
import { shortDuration, targetLabel, utc } from './text.js';

/** Bars stop here: a drill far over its target (or over a zero target) is shown as "over", not as a bar that dwarfs the rest. */
export const SHARE_CAP = 200;

interface ShareBar {
  drill: string;
  /** Measured as a percentage of the target, capped at SHARE_CAP. */
  percent: number;
  over: boolean;
  capped: boolean;
  /** "4.9 s of 1 h (0.1 %)" */
  text: string;
}

export interface ShareChart {
  metric: 'RTO' | 'RPO';
  bars: ShareBar[];
}

function percentOf(measured: number, target: number): number {
  if (target === 0) return measured === 0 ? 0 : Infinity;
  return (measured / target) * 100;
}

function round(value: number): number {
  return value >= 10 ? Math.round(value) : Number(value.toPrecision(2));
}

/** Each measured drill's RTO or RPO as a share of its target: the target is 100 %. */
export function shareOfTarget(run: RunJournal, metric: 'RTO' | 'RPO'): ShareChart {
  const bars: ShareBar[] = [];
  for (const drill of run.drills) {
    const m = metric === 'RTO' ? drill.rto : drill.rpo;
    const measured = metric === 'RPO' && drill.rpo?.total ? Infinity : m?.measuredMs;
    if (!m || measured === undefined) continue;
    const share = percentOf(measured, m.targetMs);
    const capped = share > SHARE_CAP;
    bars.push({
      drill: drill.name,
      percent: capped ? SHARE_CAP : round(share),
      over: measured > m.targetMs,
      capped,
      text: `${shortDuration(measured)} of ${targetLabel(m.targetMs)}${Number.isFinite(share) ? ` (${round(share)} %)` : ''}`,
    });
  }
  return { metric, bars };
}

interface TrendPoint {
  /** "11-22 08:54": month-day and UTC time of the run's start. */
  label: string;
  /** Seconds; undefined when the run measured nothing. */
  seconds?: number;
  verdict?: string;
}

export interface Trend {
  drill: string;
  metric: 'RTO' | 'RPO';
  points: TrendPoint[];
  targetSeconds: number;
  targetText: string;
  /** The y axis, from 0 (never zoomed: noise must not look like a spike). */
  maxSeconds: number;
  /** The target is drawn when it fits on a scale where the measurements still show; otherwise the chart says it is above. */
  targetShown: boolean;
}

/** A target more than this many times the largest measurement would flatten the bars to nothing: it is named, not drawn. */
const TARGET_SCALE_LIMIT = 5;

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * magnitude >= value)!;
  return step * magnitude;
}

/** RTO or RPO over the drill's recent runs (newest last), in seconds against the drill's current target. */
export function trend(run: RunJournal, drill: DrillJournal, metric: 'RTO' | 'RPO'): Trend | undefined {
  const rows = run.recentRuns?.[drill.name] ?? [];
  const target = metric === 'RTO' ? drill.rto?.targetMs : drill.rpo?.targetMs;
  if (rows.length < 2 || target === undefined) return undefined;
  const points = rows.map((r) => {
    const ms = metric === 'RTO' ? r.rtoMs : r.rpoMs;
    return { label: utc(r.startedAt).slice(5, 16), seconds: ms === undefined ? undefined : round(ms / 1000), verdict: r.verdict };
  });
  const largest = Math.max(0, ...points.map((p) => p.seconds ?? 0));
  // Nothing lost in any run, against a target that allows some: a chart of zeros says nothing the verdicts do not.
  if (metric === 'RPO' && largest === 0 && target > 0) return undefined;
  const targetSeconds = target / 1000;
  const targetShown = targetSeconds <= Math.max(largest, 0.001) * TARGET_SCALE_LIMIT;
  return {
    drill: drill.name,
    metric,
    points,
    targetSeconds,
    targetText: targetLabel(target),
    maxSeconds: niceMax(Math.max(largest, targetShown ? targetSeconds : 0) * 1.1),
    targetShown,
  };
}

interface TimelineBar {
  label: string;
  startMs: number;
  endMs: number;
  state: 'ok' | 'failed' | 'running';
}

export interface Timeline {
  drill: string;
  /** The drill's start: every offset counts from here, so no viewer's time zone can shift the axis. */
  startedAt: string;
  spanMs: number;
  tickMs: number;
  phases: TimelineBar[];
  /** From the fault to the first passing verification (or, unrecovered, to the end of verification). */
  rto?: { startMs: number; endMs: number; label: string; over: boolean };
  /** The verdict, at the end of verification: where a drill that failed on its checks shows red. */
  verdict: { atMs: number; label: string; failed: boolean };
}

/** Ticks a reader can tell apart: about eight across the span. */
const TICKS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400].map((s) => s * 1000);

export function timeline(drill: DrillJournal): Timeline {
  const start = Date.parse(drill.startedAt);
  const end = drill.endedAt ? Date.parse(drill.endedAt) : Math.max(start, ...drill.phases.map((p) => Date.parse(p.endedAt ?? p.startedAt)));
  const spanMs = Math.max(1, end - start);
  const phases = drill.phases.map((p) => {
    const from = Date.parse(p.startedAt) - start;
    const to = (p.endedAt ? Date.parse(p.endedAt) : end) - start;
    return { label: `${p.name} ${shortDuration(p.durationMs ?? to - from)}`, startMs: from, endMs: Math.max(to, from), state: p.status === 'failed' ? ('failed' as const) : p.status === 'running' ? ('running' as const) : ('ok' as const) };
  });
  const faultAt = drill.fault ? Date.parse(drill.fault.at) - start : undefined;
  const verify = drill.phases.find((p) => p.name === 'verify');
  const verifiedAt = verify?.endedAt ? Date.parse(verify.endedAt) - start : undefined;
  const rtoCheck = drill.checks.find((c) => c.name === 'rto');
  const rto =
    faultAt === undefined || verifiedAt === undefined
      ? undefined
      : {
          startMs: faultAt,
          // The measured RTO ends at the first passing verification, inside the verify phase.
          endMs: drill.rto?.measuredMs === undefined ? verifiedAt : faultAt + drill.rto.measuredMs,
          label: drill.rto?.measuredMs === undefined ? `no verified recovery (target ${targetLabel(drill.rto?.targetMs)})` : `RTO ${shortDuration(drill.rto.measuredMs)} (target ${targetLabel(drill.rto.targetMs)})`,
          over: rtoCheck?.verdict !== 'pass',
        };
  const why = whyNotPassed(drill);
  const failed = drill.verdict !== 'pass';
  const verdict = {
    atMs: verifiedAt ?? spanMs,
    label: failed ? `${(drill.verdict ?? 'unknown').toUpperCase()}${why.checks.length ? ` ${why.checks.join(', ')}` : ''}` : 'PASS',
    failed,
  };
  return { drill: drill.name, startedAt: drill.startedAt, spanMs, tickMs: TICKS.find((t) => spanMs / t <= 10) ?? 86_400_000, phases, rto, verdict };
}
