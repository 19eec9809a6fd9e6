/**
 * Durations and sizes in drill files ("15m", "2h", "500ms", "0"). Our own small parser
 * because the error must name the field and the accepted forms.
 */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

export const DURATION_HINT = 'a duration such as "0", "500ms", "30s", "15m", "2h" or "1d"';

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string | number): number | undefined {
  if (text === 0 || text === '0') return 0;
  if (typeof text === 'number') return undefined;
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** Human form for reports: 950ms, 12.3s, 4m 05s, 2h 03m. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return 'n/a';
  if (!Number.isFinite(ms)) return 'unbounded';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) {
    const m = Math.floor(ms / 60_000);
    const s = Math.round((ms % 60_000) / 1000);
    return `${m}m ${String(s).padStart(2, '0')}s`;
  }
  const h = Math.floor(ms / 3_600_000);
  const m = Math.round((ms % 3_600_000) / 60_000);
  return `${h}h ${String(m).padStart(2, '0')}m`;
}

/** A target in words: zero is a promise that nothing is lost, not a very short duration. */
export function formatTarget(ms: number): string {
  return ms === 0 ? '0 s (no loss allowed)' : formatDuration(ms);
}

const SIZE = /^(\d+)\s*([kmgt]?)i?b?$/i;
const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export const SIZE_HINT = 'a size such as "64m", "512MiB", "2g" or "800GB"';

/** Bytes, or undefined when the text is not a size ("256m", "1g", "512MiB"). */
export function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  return match ? Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]! : undefined;
}

/** Human form for reports and messages: 512 B, 1.5 MiB, 2.0 GiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
