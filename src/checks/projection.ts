/**
 * "Will ours restore in time?": the RTO measured at several database sizes,
 * a least-squares line through them, and the line read at the production
 * size. It is an extrapolation, and says so: the check passes only when even
 * the pessimistic end of the 95% prediction interval is within the target,
 * fails when the projection itself is beyond it, and is unknown otherwise (two
 * sizes give a line but no error; an interval that straddles the target
 * cannot say).
 */
import type { CheckResult } from '../model/verdict.js';
import { formatBytes, formatDuration } from '../support/units.js';

export interface SizedRto {
  drill: string;
  sizeBytes: number;
  rtoMs: number;
}

/** Student's t at 97.5% for 1..10 degrees of freedom: the 95% two-sided interval. */
const T_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];

export interface Fit {
  /** Milliseconds of RTO per byte, and at zero bytes. */
  slope: number;
  intercept: number;
  /** Coefficient of determination; undefined with two points (a line through two points fits exactly). */
  r2?: number;
  /** Residual standard error, ms; undefined with two points. */
  residualMs?: number;
}

export function fitLine(points: readonly SizedRto[]): Fit {
  const n = points.length;
  const meanX = points.reduce((sum, p) => sum + p.sizeBytes, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.rtoMs, 0) / n;
  const sxx = points.reduce((sum, p) => sum + (p.sizeBytes - meanX) ** 2, 0);
  const sxy = points.reduce((sum, p) => sum + (p.sizeBytes - meanX) * (p.rtoMs - meanY), 0);
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  if (n < 3) return { slope, intercept };
  const residual = points.reduce((sum, p) => sum + (p.rtoMs - (intercept + slope * p.sizeBytes)) ** 2, 0);
  const total = points.reduce((sum, p) => sum + (p.rtoMs - meanY) ** 2, 0);
  return { slope, intercept, r2: total === 0 ? 1 : 1 - residual / total, residualMs: Math.sqrt(residual / (n - 2)) };
}

/** The projection at `sizeBytes`, with the half-width of its 95% prediction interval where the fit has an error. */
export function project(points: readonly SizedRto[], fit: Fit, sizeBytes: number): { rtoMs: number; halfWidthMs?: number } {
  const rtoMs = fit.intercept + fit.slope * sizeBytes;
  if (fit.residualMs === undefined) return { rtoMs };
  const n = points.length;
  const meanX = points.reduce((sum, p) => sum + p.sizeBytes, 0) / n;
  const sxx = points.reduce((sum, p) => sum + (p.sizeBytes - meanX) ** 2, 0);
  const t = T_975[Math.min(n - 2, T_975.length) - 1]!;
  return { rtoMs, halfWidthMs: t * fit.residualMs * Math.sqrt(1 + 1 / n + (sizeBytes - meanX) ** 2 / sxx) };
}

/** What the journal keeps of a projection: the measured points, the line, and the projection where a size was given. */
export interface ProjectionRecord {
  method: string;
  points: SizedRto[];
  fit?: Fit;
  productionSizeBytes?: number;
  projectedMs?: number;
  halfWidthMs?: number;
}

const METHOD = 'least-squares line of RTO against pg_database_size at the backup; 95% prediction interval (Student t) where three or more sizes give an error';

/**
 * The projection of a group of drills of one file: the fit always, and with a
 * production size, the check. The check is unknown when a size has no
 * measured RTO (a drill that failed its content checks has none) or the sizes
 * do not differ.
 */
export function projectionOf(
  points: readonly SizedRto[],
  missing: readonly string[],
  targetMs: number,
  productionSizeBytes: number | undefined,
): { record: ProjectionRecord; check?: CheckResult } {
  const name = 'rto-projection';
  const record: ProjectionRecord = { method: METHOD, points: [...points], ...(productionSizeBytes === undefined ? {} : { productionSizeBytes }) };
  const measured = points.map((p) => `${p.drill}: ${formatBytes(p.sizeBytes)} in ${formatDuration(p.rtoMs)}`).join('; ');
  const unknown = (summary: string) => ({ record, ...(productionSizeBytes === undefined ? {} : { check: { name, verdict: 'unknown' as const, summary, evidence: { ...record } } }) });
  if (missing.length) return unknown(`no projection: ${missing.join(', ')} measured no RTO`);
  if (points.length < 2 || new Set(points.map((p) => p.sizeBytes)).size < 2) return unknown('no projection: the sizes measured do not differ');
  const fit = fitLine(points);
  record.fit = fit;
  if (productionSizeBytes === undefined) return { record };
  const perGiB = `${formatDuration(fit.slope * 1024 ** 3)} per GiB`;
  const quality = fit.r2 === undefined ? 'two sizes: a line, no error estimate' : `R² ${fit.r2.toFixed(3)}, residual ${formatDuration(fit.residualMs)}`;
  const largest = Math.max(...points.map((p) => p.sizeBytes));
  const { rtoMs, halfWidthMs } = project(points, fit, productionSizeBytes);
  Object.assign(record, { projectedMs: rtoMs }, halfWidthMs === undefined ? {} : { halfWidthMs });
  const interval = halfWidthMs === undefined ? '' : ` ± ${formatDuration(halfWidthMs)} (95%)`;
  const summary =
    `PROJECTION, not a measurement: RTO at ${formatBytes(productionSizeBytes)} (${(productionSizeBytes / largest).toFixed(0)}x the largest size measured) ` +
    `≈ ${formatDuration(rtoMs)}${interval}; target ${formatDuration(targetMs)}; fitted ${perGiB} (${quality}) over ${measured}`;
  const verdict = rtoMs > targetMs ? 'fail' : halfWidthMs !== undefined && rtoMs + halfWidthMs <= targetMs ? 'pass' : 'unknown';
  const why = verdict !== 'unknown' ? '' : halfWidthMs === undefined ? '; measure a third size for an error estimate' : '; the interval reaches past the target';
  return { record, check: { name, verdict, summary: `${summary}${why}`, evidence: { ...record } } };
}
