/**
 * Reads and validates drill files completely before anything starts. Every
 * problem is collected with its file and field path
 * (`drills/x.yaml: recovery.table: expected ...`), so one run of `validate`
 * shows them all.
 */
import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { isMap, parseDocument } from 'yaml';
import { InputError } from '../errors.js';
import { compatibilityProblems, resolveDefaults } from './compatibility.js';
import { drillSchema, type DrillFileSpec, type DrillSpec, type LoadedDrill } from './spec.js';

const DRILL_FILE = /\.ya?ml$/i;
/** Larger than any drill: a file this big is not one, and is not read whole. */
const MAX_DRILL_BYTES = 1024 * 1024;
/** YAML aliases a drill may use; an alias bomb multiplies far past this. */
const MAX_ALIASES = 100;

/** Why a path cannot be read, in words (a symlink loop is not "no such file"). */
function unreadable(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'ELOOP':
      return 'a symbolic link loop';
    case 'EACCES':
      return 'permission denied';
    default:
      return (error as Error).message;
  }
}

/** Files named on the command line, or every *.yaml / *.yml (any case) in the folders named, sorted. */
async function drillFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      problems.push(`${path}: ${unreadable(error)}`);
      continue;
    }
    if (info.isDirectory()) {
      const names = (await readdir(path)).filter((n) => DRILL_FILE.test(n)).sort();
      if (names.length === 0) problems.push(`${path}: no drill files (*.yaml) in this folder`);
      files.push(...names.map((n) => join(path, n)));
    } else {
      files.push(path);
    }
  }
  if (problems.length) throw new InputError('DRILL_FILE_INVALID', problems.join('\n'));
  return files;
}

function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value = raw;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * `${NAME}` in a string value is the environment variable NAME, so a drill can
 * name machine-specific paths (another version's binaries) without holding
 * them. A variable that is not set is a problem naming the field.
 */
function expandEnvironment(value: unknown, path: string[], unset: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, variable: string) => {
      const found = process.env[variable];
      if (found === undefined || found === '') {
        unset.push(`${path.join('.')}: \${${variable}} is not set; set the environment variable ${variable} (the drill file names it)`);
        return whole;
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnvironment(item, [...path, String(i)], unset));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expandEnvironment(item, [...path, key], unset)]));
  }
  return value;
}

/** Parses and validates one drill; returns its problems instead of throwing. */
async function parseDrill(file: string): Promise<{ drills?: LoadedDrill[]; problems: string[] }> {
  const name = display(file);
  let bytes: Buffer;
  try {
    // Only a regular file is read: a FIFO or a device named *.yaml would block the read for ever.
    const info = await stat(file);
    if (!info.isFile()) return { problems: [`${name}: not a regular file (a drill file must be one)`] };
    if (info.size > MAX_DRILL_BYTES) return { problems: [`${name}: ${info.size} bytes; a drill file is at most ${MAX_DRILL_BYTES} bytes`] };
    bytes = await readFile(file);
  } catch (error) {
    return { problems: [`${name}: cannot read: ${unreadable(error)}`] };
  }
  const doc = parseDocument(bytes.toString('utf8'), { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    return {
      problems: doc.errors.map((e) => {
        const at = e.linePos?.[0];
        return `${name}${at ? `:${at.line}:${at.col}` : ''}: YAML syntax: ${e.message.split('\n')[0]}`;
      }),
    };
  }
  if (!isMap(doc.contents)) return { problems: [`${name}: expected a mapping of drill settings (name, backup, fault, ...)`] };
  let parsed: unknown;
  try {
    parsed = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    return { problems: [`${name}: YAML: ${(error as Error).message.split('\n')[0]} (at most ${MAX_ALIASES} alias uses)`] };
  }
  const unset: string[] = [];
  const raw = expandEnvironment(parsed, [], unset) as Record<string, unknown>;
  if (unset.length) return { problems: unset.map((problem) => `${name}: ${problem}`) };
  const result = drillSchema.safeParse(raw);
  const problems = compatibilityProblems(raw).map((p) => `${name}: ${p.path}: ${p.message}`);
  if (!result.success) {
    problems.unshift(
      ...result.error.issues.map((issue) => {
        const path = issue.path.join('.') || '(top level)';
        const message =
          issue.code === 'unrecognized_keys'
            ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (check the spelling; see docs/drill-format.md)`
            : valueAt(raw, issue.path) === undefined && issue.code !== 'custom'
              ? 'required'
              : issue.message;
        return `${name}: ${path}: ${message}`;
      }),
    );
  }
  if (problems.length || !result.success) return { problems };
  const spec = resolveDefaults(result.data as DrillFileSpec);
  // The team's scripts and smoke tests are named relative to the drill file; they must exist and run before anything starts.
  const executables: Array<[string, string, (path: string) => void]> = [];
  for (const [path, owner] of [['backup.script', spec.backup], ['recovery.script', spec.recovery]] as const) {
    if ('script' in owner && owner.script) executables.push([path, owner.script, (resolved) => (owner.script = resolved)]);
  }
  for (const [i, command] of spec.commands.entries()) executables.push([`commands[${i}].run`, command.run, (resolved) => (command.run = resolved)]);
  for (const [path, given, use] of executables) {
    const resolved = resolve(dirname(file), given);
    try {
      if (!(await stat(resolved)).isFile()) throw new Error('not a file');
      await access(resolved, constants.X_OK);
      use(resolved);
    } catch {
      problems.push(`${name}: ${path}: ${given} (${resolved}) does not exist or is not executable (a folder is not a script); give a path relative to the drill file and chmod +x it`);
    }
  }
  // A backup made elsewhere on a local path is named relative to the drill file too.
  const local = (path: string) => (path.startsWith('s3://') ? path : resolve(dirname(file), path));
  if (spec.backup.method === 'existing') spec.backup.path = local(spec.backup.path);
  if (spec.backup.method === 'existing-base-backup') Object.assign(spec.backup, { path: local(spec.backup.path), wal: local(spec.backup.wal) });
  if (spec.backup.method === 'existing-pgbackrest' && spec.backup.path) spec.backup.path = local(spec.backup.path);
  // A part's own folder (the team's configuration, drilled on a copy) is named relative to the drill file; it must be a folder.
  for (const [i, part] of spec.parts.entries()) {
    if (!('source' in part) || typeof part.source !== 'string') continue;
    const resolved = local(part.source);
    if (!(await stat(resolved).catch(() => undefined))?.isDirectory()) problems.push(`${name}: parts[${i}].source: ${part.source} (${resolved}) is not a folder; give a folder relative to the drill file`);
    else Object.assign(part, { source: resolved });
  }
  // The team's WAL commands run from the server's data folder: a relative program path is the drill file's.
  const program = (command: string) => command.replace(/^(\S+)/, (first) => (first.includes('/') && !first.startsWith('/') ? resolve(dirname(file), first) : first));
  if (spec.backup.method === 'script-base-backup') Object.assign(spec.backup, { archiveCommand: program(spec.backup.archiveCommand), restoreCommand: program(spec.backup.restoreCommand) });
  const names = [...spec.queries.map((q) => q.name), ...spec.commands.map((c) => c.name)];
  for (const repeated of new Set(names.filter((n, i) => names.indexOf(n) !== i))) problems.push(`${name}: queries/commands: the name ${repeated} is used twice; each check needs its own`);
  const scales = Array.isArray(spec.dataset.scale) ? spec.dataset.scale : undefined;
  if (scales) {
    if (new Set(scales).size !== scales.length) problems.push(`${name}: dataset.scale: ${scales.join(', ')} names a scale twice; name each once`);
    const longest = `${spec.name}-${scales.map(String).sort((a, b) => b.length - a.length)[0]}`;
    if (longest.length > 63) problems.push(`${name}: name: ${longest} (the drill at one of its scales) is longer than 63 characters; shorten the name`);
  } else if (spec.targets.productionSize !== undefined) {
    problems.push(`${name}: targets.productionSize: a projection needs the drill at several sizes; give dataset.scale a list, e.g. [small, medium]`);
  }
  if (problems.length) return { problems };
  if (!scales) return { drills: [{ file: name, spec: spec as DrillSpec, bytes }], problems: [] };
  // One drill per scale, in the order given; the group fits their RTO against size.
  const projection = { name: spec.name, members: scales.map((scale) => `${spec.name}-${scale}`), productionSizeBytes: spec.targets.productionSize };
  return {
    drills: scales.map((scale, i) => ({ file: name, spec: { ...spec, name: projection.members[i]!, dataset: { ...spec.dataset, scale } }, projection, bytes })),
    problems: [],
  };
}

/** Loads every drill or throws one InputError listing every problem in every file. */
export async function loadDrills(paths: readonly string[]): Promise<LoadedDrill[]> {
  const files = await drillFiles(paths);
  const drills: LoadedDrill[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const parsed = await parseDrill(file);
    problems.push(...parsed.problems);
    drills.push(...(parsed.drills ?? []));
  }
  const seen = new Map<string, string>();
  for (const { file, spec } of drills) {
    const other = seen.get(spec.name);
    if (other) problems.push(`${file}: name: "${spec.name}" is already used by ${other}; drill names must be unique`);
    seen.set(spec.name, file);
  }
  if (problems.length) throw new InputError('DRILL_FILE_INVALID', problems.join('\n'));
  return drills;
}
