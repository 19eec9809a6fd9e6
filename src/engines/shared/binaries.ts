/**
 * Finds the PostgreSQL server binaries the native engine runs: an explicit
 * setting first, then the environment, pg_config, PATH, and the folders the
 * usual distributions install to.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { SetupError } from '../../errors.js';
import { majorOf } from '../../pg/versions.js';

const execFileAsync = promisify(execFile);

const BIN_DIR_ENV = 'RESTORE_DRILL_PG_BIN';
const REQUIRED = ['initdb', 'pg_ctl', 'postgres', 'pg_dump', 'pg_restore'] as const;

export interface PgBinaries {
  binDir: string;
  /** `postgres --version`, e.g. "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)". */
  versionText: string;
  major: number;
  /** How the folder was found, for the report. */
  source: string;
}

function missingTools(dir: string): string[] {
  return REQUIRED.filter((tool) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

function versionedDirs(parent: string, pattern: RegExp, suffix: string): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, major: Number(pattern.exec(name)?.[1]) }))
    .filter((entry) => Number.isFinite(entry.major) && entry.major > 0)
    .sort((a, b) => b.major - a.major)
    .map((entry) => join(parent, entry.name, suffix));
}

async function pgConfigBinDir(): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('pg_config', ['--bindir']);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function describe(binDir: string, source: string): Promise<PgBinaries> {
  const { stdout } = await execFileAsync(join(binDir, 'postgres'), ['--version']);
  return { binDir, versionText: stdout.trim(), major: majorOf(stdout) ?? 0, source };
}

export async function findPgBinaries(explicit?: string): Promise<PgBinaries> {
  const chosen = explicit ?? process.env[BIN_DIR_ENV];
  if (chosen) {
    const source = explicit ? '--pg-bin' : BIN_DIR_ENV;
    const missing = missingTools(chosen);
    if (missing.length > 0) {
      throw new SetupError(
        'PG_BINARIES_NOT_FOUND',
        `${source}=${chosen} does not hold the PostgreSQL server binaries (missing: ${missing.join(', ')}). ` +
          'Point it at the folder that holds initdb, pg_ctl and postgres, e.g. /usr/lib/postgresql/15/bin.',
      );
    }
    return describe(chosen, source);
  }

  const candidates: Array<{ dir: string; source: string }> = [];
  const fromPgConfig = await pgConfigBinDir();
  if (fromPgConfig) candidates.push({ dir: fromPgConfig, source: 'pg_config --bindir' });
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    candidates.push({ dir, source: 'PATH' });
  }
  for (const dir of [
    ...versionedDirs('/usr/lib/postgresql', /^(\d+)$/, 'bin'),
    ...versionedDirs('/usr', /^pgsql-(\d+)$/, 'bin'),
    '/usr/local/pgsql/bin',
    ...versionedDirs('/opt/homebrew/opt', /^postgresql@(\d+)$/, 'bin'),
    ...versionedDirs('/usr/local/opt', /^postgresql@(\d+)$/, 'bin'),
  ]) {
    candidates.push({ dir, source: 'standard location' });
  }

  for (const { dir, source } of candidates) {
    if (missingTools(dir).length === 0) return describe(dir, source);
  }
  throw new SetupError(
    'PG_BINARIES_NOT_FOUND',
    'No PostgreSQL server binaries found (looked at pg_config --bindir, PATH, /usr/lib/postgresql/*/bin, ' +
      '/usr/pgsql-*/bin, /usr/local/pgsql/bin, Homebrew). Install the server (Debian/Ubuntu: ' +
      'apt-get install postgresql; RHEL: dnf install postgresql-server; macOS: brew install postgresql@15) ' +
      `or set ${BIN_DIR_ENV}=/path/to/postgresql/bin.`,
  );
}

/** Where a bin folder's PostgreSQL keeps its libraries and its share folder. */
interface InstallDirs {
  pkglibdir: string;
  sharedir: string;
}

/** One pg_config per bin folder and process: it prints the same every time, and each call is a process start (≈35 ms here). */
const installDirs = new Map<string, Promise<InstallDirs | undefined>>();

/** Its pg_config's answers, or undefined where it has none (older layouts ship pg_config elsewhere). */
function installDirsOf(binDir: string): Promise<InstallDirs | undefined> {
  let dirs = installDirs.get(binDir);
  if (!dirs) {
    dirs = execFileAsync(join(binDir, 'pg_config'), ['--pkglibdir', '--sharedir']).then(
      ({ stdout }) => {
        const [pkglibdir, sharedir] = stdout.trim().split('\n');
        return pkglibdir && sharedir ? { pkglibdir, sharedir } : undefined;
      },
      () => undefined,
    );
    installDirs.set(binDir, dirs);
  }
  return dirs;
}

/**
 * The TimescaleDB versions the binaries can run a database at: those with both
 * their versioned library and their install script (several after an upgrade).
 * The folders are read each time: a version installed during a run counts.
 */
export async function timescaleVersions(binDir: string): Promise<string[]> {
  const dirs = await installDirsOf(binDir);
  if (!dirs) return [];
  try {
    const libraries = new Set((await readdir(dirs.pkglibdir)).flatMap((f) => /^timescaledb-(\d[\d.]*)\.so$/.exec(f)?.[1] ?? []));
    const scripts = (await readdir(join(dirs.sharedir, 'extension'))).flatMap((f) => /^timescaledb--(\d[\d.]*)\.sql$/.exec(f)?.[1] ?? []);
    return scripts.filter((v) => libraries.has(v)).sort();
  } catch {
    return [];
  }
}

/** Whether the server binaries have TimescaleDB's library beside them (it must be preloaded). */
export async function hasTimescaleLibrary(binDir: string): Promise<boolean> {
  // Without pg_config, ../lib is the usual neighbour.
  const libDir = (await installDirsOf(binDir))?.pkglibdir ?? join(binDir, '..', 'lib');
  try {
    return (await readdir(libDir)).some((f) => /^timescaledb(-[\d.]+)?\.so$/.test(f));
  } catch {
    return false;
  }
}
