/**
 * The charts as inline SVG, for report.html: no script, no network, drawn the
 * same in every browser and on paper. Colours come from the page's CSS
 * classes (html.ts), so one drawing reads in the light and the dark theme.
 */
import { SHARE_CAP, type ShareChart, type Timeline, type Trend } from './charts.js';
import { shortDuration } from './text.js';

const WIDTH = 760;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Coordinates with one decimal: enough for a screen, short in the file. */
function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function svg(height: number, title: string, body: string[]): string {
  return [
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${n(height)}" width="${WIDTH}" height="${n(height)}" role="img" aria-label="${esc(title)}">`,
    `<title>${esc(title)}</title>`,
    `<text class="title" x="0" y="16">${esc(title)}</text>`,
    ...body,
    '</svg>',
  ].join('\n');
}

function text(x: number, y: number, value: string, cls = 'label', anchor: 'start' | 'middle' | 'end' = 'start'): string {
  return `<text class="${cls}" x="${n(x)}" y="${n(y)}" text-anchor="${anchor}">${esc(value)}</text>`;
}

function rect(x: number, y: number, w: number, h: number, cls: string): string {
  return `<rect class="${cls}" x="${n(x)}" y="${n(y)}" width="${n(Math.max(w, 0))}" height="${n(h)}"/>`;
}

function line(x1: number, y1: number, x2: number, y2: number, cls: string): string {
  return `<line class="${cls}" x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}"/>`;
}

/** One bar per drill, the target at 100 %, each bar labelled with what it measures. */
export function shareSvg(chart: ShareChart): string {
  const title = `${chart.metric} as a share of its target (target = 100 %, bars capped at ${SHARE_CAP} %)`;
  const left = 170;
  const plot = 330;
  const row = 22;
  const top = 44;
  const x = (percent: number) => left + (percent / SHARE_CAP) * plot;
  const body: string[] = [];
  for (const tick of [0, 50, 100, 150, 200]) {
    body.push(line(x(tick), top - 6, x(tick), top + chart.bars.length * row, 'grid'), text(x(tick), top - 10, `${tick} %`, 'axis', 'middle'));
  }
  chart.bars.forEach((bar, i) => {
    const y = top + i * row;
    body.push(
      text(left - 8, y + 15, bar.drill, 'label', 'end'),
      // A sliver of a bar still shows that something was measured.
      rect(left, y + 4, Math.max(x(bar.percent) - left, 1.5), row - 8, bar.over ? 'bar over' : 'bar'),
      text(x(SHARE_CAP) + 8, y + 15, `${bar.over ? '✗' : '✓'} ${bar.text}${bar.capped ? ', over the scale' : ''}`.replace(/\u00a0/g, ' '), bar.over ? 'label bad' : 'label'),
    );
  });
  body.push(line(x(100), top - 6, x(100), top + chart.bars.length * row, 'target'));
  return svg(top + chart.bars.length * row + 8, title, body);
}

/** Bars per run with their dates, from 0, the target as a dashed line (or named when it is far above), and a legend. */
export function trendSvg(t: Trend): string {
  const title = `${t.drill}: ${t.metric} per run, in seconds`;
  const left = 56;
  const top = 48;
  const height = 150;
  const plot = WIDTH - left - 20;
  const y = (seconds: number) => top + height - (seconds / t.maxSeconds) * height;
  const slot = plot / t.points.length;
  const body: string[] = [
    rect(left, 26, 10, 10, 'bar'),
    text(left + 14, 35, `${t.metric} measured`, 'legend'),
    line(left + 150, 31, left + 176, 31, 'target'),
    text(left + 182, 35, t.targetShown ? `target ${t.targetText}` : `target ${t.targetText}: above this scale`, 'legend'),
  ];
  for (const tick of [0, t.maxSeconds / 2, t.maxSeconds]) {
    body.push(line(left, y(tick), left + plot, y(tick), 'grid'), text(left - 6, y(tick) + 4, `${Number(tick.toPrecision(3))} s`, 'axis', 'end'));
  }
  t.points.forEach((p, i) => {
    const cx = left + slot * i + slot / 2;
    const w = Math.min(48, slot * 0.6);
    if (p.seconds !== undefined) {
      body.push(rect(cx - w / 2, Math.min(y(p.seconds), y(0) - 1), w, Math.max(y(0) - y(p.seconds), 1), p.verdict === 'pass' ? 'bar' : 'bar over'), text(cx, y(p.seconds) - 4, `${p.seconds} s`, 'value', 'middle'));
    } else {
      body.push(text(cx, y(0) - 4, 'n/a', 'value', 'middle'));
    }
    body.push(text(cx, top + height + 16, p.label, 'axis', 'middle'));
  });
  if (t.targetShown) body.push(line(left, y(t.targetSeconds), left + plot, y(t.targetSeconds), 'target'));
  body.push(text(left + plot, top + height + 32, 'run start, UTC (month-day time); red bars: the run did not pass', 'axis', 'end'));
  return svg(top + height + 40, title, body);
}

/** Phases on one row each, in seconds from the drill's start, with the RTO window shaded and the verdict marked. */
export function timelineSvg(t: Timeline): string {
  const title = `${t.drill}: phases, seconds from the drill's start at ${t.startedAt.slice(0, 19).replace('T', ' ')} UTC`;
  const left = 190;
  const plot = WIDTH - left - 16;
  const row = 18;
  const top = 40;
  const rows = t.phases.length + 1;
  const x = (ms: number) => left + (ms / t.spanMs) * plot;
  const bottom = top + rows * row;
  const body: string[] = [];
  for (let ms = 0; ms <= t.spanMs; ms += t.tickMs) {
    body.push(line(x(ms), top - 4, x(ms), bottom, 'grid'), text(x(ms), bottom + 14, `${ms / 1000} s`, 'axis', 'middle'));
  }
  if (t.rto) {
    body.push(rect(x(t.rto.startMs), top - 4, x(t.rto.endMs) - x(t.rto.startMs), bottom - top + 4, t.rto.over ? 'window over' : 'window'));
  }
  t.phases.forEach((p, i) => {
    const y = top + i * row;
    body.push(
      text(left - 8, y + 13, p.label.replace(/\u00a0/g, ' '), 'label', 'end'),
      // Never thinner than 3 px: a 50 ms phase of a 20 s drill must still show.
      rect(x(p.startMs), y + 3, Math.max(x(p.endMs) - x(p.startMs), 3), row - 6, p.state === 'ok' ? 'phase' : 'phase bad'),
    );
  });
  const y = top + t.phases.length * row;
  if (t.rto) body.push(text(left - 8, y + 13, t.rto.label.replace(/\u00a0/g, ' '), t.rto.over ? 'label bad' : 'label', 'end'), rect(x(t.rto.startMs), y + 5, x(t.rto.endMs) - x(t.rto.startMs), row - 10, t.rto.over ? 'bar over' : 'bar'));
  body.push(line(x(t.verdict.atMs), top - 4, x(t.verdict.atMs), bottom, t.verdict.failed ? 'target' : 'pass-mark'), text(x(t.verdict.atMs) + (t.verdict.atMs > t.spanMs * 0.7 ? -4 : 4), top - 8, t.verdict.label, t.verdict.failed ? 'label bad' : 'label good', t.verdict.atMs > t.spanMs * 0.7 ? 'end' : 'start'));
  body.push(text(WIDTH - 16, bottom + 30, `shaded: the RTO window, from the fault to the verified recovery; total ${shortDuration(t.spanMs).replace(/\u00a0/g, ' ')}`, 'axis', 'end'));
  return svg(bottom + 38, title, body);
}
