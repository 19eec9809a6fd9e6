/**
 * The charts as Mermaid, for report.md (GitHub and GitLab draw them). Colours
 * are set, not left to the theme: the default palette draws the first series
 * near-white on white. Blue and red read on light and dark backgrounds alike.
 * Times are offsets from the drill's start, whose UTC time the title gives:
 * Mermaid formats absolute times in the viewer's zone.
 */
import { SHARE_CAP, type ShareChart, type Timeline, type Trend } from './charts.js';

const MEASURED = '#2f81f7';
const TARGET = '#cf222e';

/** Mermaid's front matter: our palette, measured first, target second. */
const PALETTE = ['---', 'config:', '  themeVariables:', '    xyChart:', `      plotColorPalette: "${MEASURED}, ${TARGET}"`, '---'];

/** A quoted string as xychart and gantt titles take it. */
function quoted(text: string): string {
  return `"${text.replace(/"/g, "'").replace(/\u00a0/g, ' ')}"`;
}

/** A gantt task name: the colon separates its fields, and # and ; end a line. */
function taskName(text: string): string {
  return text.replace(/[:#;]/g, ' ').replace(/\u00a0/g, ' ');
}

export function shareMermaid(chart: ShareChart): string {
  return [
    ...PALETTE,
    'xychart-beta horizontal',
    `    title ${quoted(`${chart.metric} as % of target: bars measured, line = target (100 %), capped at ${SHARE_CAP} %`)}`,
    `    x-axis [${chart.bars.map((b) => quoted(b.drill)).join(', ')}]`,
    `    y-axis "% of target" 0 --> ${SHARE_CAP}`,
    `    bar [${chart.bars.map((b) => b.percent).join(', ')}]`,
    `    line [${chart.bars.map(() => 100).join(', ')}]`,
  ].join('\n');
}

export function trendMermaid(t: Trend): string {
  const target = t.targetShown ? `line = target ${t.targetText}` : `target ${t.targetText} is above this scale`;
  return [
    ...PALETTE,
    'xychart-beta',
    `    title ${quoted(`${t.drill}: ${t.metric} (s) per run start (UTC), bars = measured, ${target}`)}`,
    `    x-axis [${t.points.map((p) => quoted(p.label)).join(', ')}]`,
    `    y-axis "seconds" 0 --> ${t.maxSeconds}`,
    `    bar [${t.points.map((p) => p.seconds ?? 0).join(', ')}]`,
    ...(t.targetShown ? [`    line [${t.points.map(() => t.targetSeconds).join(', ')}]`] : []),
  ].join('\n');
}

/** Mermaid's tickInterval for a tick in milliseconds. */
function interval(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}hour` : ms % 60_000 === 0 ? `${ms / 60_000}minute` : `${ms / 1000}second`;
}

/** A phase shorter than this share of the drill is drawn this wide, so it shows as a bar; its label keeps its real duration. */
const MIN_SHARE = 0.012;

export function ganttMermaid(t: Timeline): string {
  const min = Math.ceil(t.spanMs * MIN_SHARE);
  const span = (from: number, to: number) => `${Math.round(from)}, ${Math.round(Math.max(to, from + min))}`;
  const state = { ok: 'done', failed: 'crit', running: 'active' } as const;
  const lines = [
    'gantt',
    `    title ${t.drill.replace(/[#;]/g, ' ')}${(`: seconds from the drill's start at ${t.startedAt.slice(11, 19)} UTC (${t.startedAt.slice(0, 10)})`)}`,
    // Offsets from 0, formatted as seconds since "the epoch": the same in every time zone.
    '    dateFormat x',
    '    axisFormat %s s',
    `    tickInterval ${interval(t.tickMs)}`,
    '    todayMarker off',
    '    section Phases',
    ...t.phases.map((p) => `    ${taskName(p.label)} :${state[p.state]}, ${span(p.startMs, p.endMs)}`),
  ];
  if (t.rto) {
    lines.push('    section Recovery', `    ${taskName(t.rto.label)} :${t.rto.over ? 'crit' : 'active'}, ${span(t.rto.startMs, t.rto.endMs)}`);
  }
  lines.push('    section Verdict', `    ${taskName(t.verdict.label)} :milestone, ${t.verdict.failed ? 'crit, ' : ''}${Math.round(t.verdict.atMs)}, 0ms`);
  return lines.join('\n');
}
