/**
 * Words and numbers as the reports print them: Markdown-safe text, short
 * durations with a space before the unit, targets that say what a zero means,
 * UTC times in one format, and paths that do not point at temp folders gone
 * after the run.
 */
/**
 * Text for Markdown prose and table cells: what would start markup (emphasis,
 * links, raw HTML, a cell border) is escaped, so a check's summary reads the
 * same in GitHub, in report.html, and as raw text. Line breaks become spaces.
 */
export function mdText(value: unknown): string {
  return String(value ?? '')
    .replace(/\r?\n/g, ' ')
    .replace(/[\\`*<>[\]|~]/g, (c) => `\\${c}`)
    // An underscore between letters is no emphasis in GFM (snake_case stays readable); elsewhere it could be.
    .replace(/(^|[^A-Za-z0-9])_|_(?=[^A-Za-z0-9]|$)/g, (m) => m.replace('_', '\\_'))
    .replace(/&(?=#?\w+;)/g, '&amp;');
}

/** A code span that holds any text: the fence is longer than any run of backticks inside. */
export function mdCode(value: unknown): string {
  const text = String(value ?? '').replace(/\r?\n/g, ' ');
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  // Inside a table a pipe ends the cell even in a code span, unless escaped.
  return `${fence}${pad}${text.replace(/\|/g, '\\|')}${pad}${fence}`;
}

const NBSP = '\u00a0';

/** A duration for a narrow cell: "682 ms", "4.9 s", "15 min", "1 h", "1 h 30 min", "2 d"; the unit never wraps away from its number. */
export function shortDuration(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return 'n/a';
  if (!Number.isFinite(ms)) return 'unbounded';
  const unit = (n: number, u: string) => `${n}${NBSP}${u}`;
  if (ms < 1000) return unit(Math.round(ms), 'ms');
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}${NBSP}s`;
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return unit(minutes, 'min');
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours >= 72 && rest === 0 && hours % 24 === 0) return unit(hours / 24, 'd');
  return rest ? `${unit(hours, 'h')} ${unit(rest, 'min')}` : unit(hours, 'h');
}

/** A target: a zero RPO is a promise that nothing is lost, not a very short duration. */
export function targetLabel(ms: number | undefined): string {
  if (ms === 0) return `0${NBSP}s (no loss allowed)`;
  return shortDuration(ms);
}

/** "2026-11-22 08:56:49 UTC": one format for every time a report shows, always UTC, always saying so. */
export function utc(iso: string | undefined, { millis = false }: { millis?: boolean } = {}): string {
  if (!iso) return 'n/a';
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return iso;
  const text = time.toISOString().replace('T', ' ');
  return `${millis ? text.slice(0, 23) : text.slice(0, 19)} UTC`;
}

/**
 * Rewrites the paths of a drill's throwaway instance folders
 * (`<tmp>/restore-drill-<run id>-<instance>-XXXXXX/...`) to what lies inside
 * them (`backups/market_….dump`): those folders are removed at the end of the
 * run, so a full path would point at nothing. A folder that was kept (a failed
 * drill, --keep) still exists, so its paths stay whole. `elided` marks where
 * the folder was cut (`…/` in command lines, where two paths may otherwise read alike).
 */
export function withoutTempFolders(runId: string, kept: readonly string[] = [], elided = ''): (text: string) => string {
  const escaped = runId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // The folder's name: the prefix, the run id, the instance's label, and mkdtemp's six characters.
  const folder = new RegExp(`(?:/[^\\s/'"\`(),;]+)*/restore-drill-${escaped}-[a-z0-9~-]+-[A-Za-z0-9]{6}(/[^\\s'"\`(),;]*)?`, 'g');
  return (text) =>
    text.replace(folder, (whole: string, inside: string | undefined) => {
      if (kept.some((dir) => whole === dir || whole.startsWith(`${dir}/`))) return whole;
      const rest = inside?.replace(/^\/+/, '');
      return rest ? `${elided}${rest}` : "the instance's temp folder";
    });
}

/** The first line of a text, cut to a length that fits one line of a summary. */
export function oneLine(text: string, max = 240): string {
  const line = text.split('\n').find((l) => l.trim()) ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
