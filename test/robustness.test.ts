/**
 * What happens around a drill when things go wrong: hostile drill files, a
 * reports folder that cannot take the evidence, a disk that fills mid-run, a
 * team script that prints the password. Each case is a real process run as a
 * user runs it: an exit code, a message naming the file and the fix, no stack
 * trace, nothing left running, nothing secret written.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunJournal } from '../src/model/journal.js';
import { drillYaml, processesMentioning, tempDir, tempFoldersOf, writeDrill } from './helpers.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const ROBUSTNESS = resolve('test/robustness');
const isRoot = process.getuid?.() === 0;

/** Runs the command as a user would, with a limit: a hang is a failure of the test, not a stuck suite. */
function cli(args: string[], env: Record<string, string> = {}) {
  return execa('node', [...CLI, ...args], { reject: false, timeout: 120_000, env });
}

function noStackTrace(text: string): void {
  expect(text).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
  expect(text).not.toMatch(/internal error/);
}

/** Every file under a folder, recursively, as path → text. */
function filesUnder(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) found.set(join(entry.parentPath, entry.name), readFileSync(join(entry.parentPath, entry.name), 'latin1'));
  }
  return found;
}

const mounts: string[] = [];
afterEach(() => {
  for (const mount of mounts.splice(0)) execFileSync('umount', ['--lazy', mount]);
});

function tmpfs(label: string, size: string): string {
  const dir = tempDir(label);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

describe('hostile drill files: exit 2 naming the file and the field, no stack trace, no hang', () => {
  it('an alias bomb, a FIFO, a folder as a script, a reserved database, a 30-day timeout, a 64-character name and a symlink loop, all in one pass', async () => {
    const dir = tempDir('hostile');
    // Nine levels of nine aliases each: 387 million strings if expanded.
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let level = 1; level < 9; level++) {
      const prev = String.fromCharCode(96 + level);
      const next = String.fromCharCode(97 + level);
      bomb.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    writeFileSync(join(dir, 'bomb.yaml'), `${bomb.join('\n')}\nname: bomb\n`);
    execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
    mkdirSync(join(dir, 'a-folder.sh'));
    writeDrill(dir, drillYaml({ name: 'folder-script', backup: { method: 'script', script: 'a-folder.sh' } }));
    writeDrill(dir, drillYaml({ name: 'reserved', database: 'postgres' }));
    writeDrill(dir, drillYaml({ name: 'forever', backup: { method: 'script', script: resolve('fixtures/scripts/backup_database.sh'), timeout: '30d' } }));
    writeDrill(dir, drillYaml({ name: 'n'.repeat(64) }));
    writeFileSync(join(dir, 'SHOUTED.YAML'), 'name: shouted\nsurprise: 1\n');
    symlinkSync(join(dir, 'loop.yaml'), join(dir, 'loop.yaml'));

    const result = await cli(['validate', dir]);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    noStackTrace(result.stderr);
    const said = result.stderr;
    expect(said).toMatch(/bomb\.yaml: YAML: .*alias.* \(at most 100 alias uses\)/i);
    expect(said).toMatch(/pipe\.yaml: not a regular file/);
    expect(said).toMatch(/folder-script\.yaml: backup\.script: a-folder\.sh \(.*\) does not exist or is not executable \(a folder is not a script\)/);
    expect(said).toMatch(/reserved\.yaml: database: "postgres" is PostgreSQL's own database; .* name another/);
    expect(said).toMatch(/forever\.yaml: backup\.timeout: "30d" is longer than 24d, the longest the harness can wait/);
    expect(said).toMatch(new RegExp(`${'n'.repeat(64)}\\.yaml: name: .*at most 63 characters`));
    expect(said).toMatch(/SHOUTED\.YAML: .*unknown key "surprise"/);
    expect(said).toMatch(/loop\.yaml: cannot read: a symbolic link loop/);
  });

  it('run refuses the same files before anything starts: no run folder, no server', async () => {
    const dir = tempDir('hostile-run');
    const reports = tempDir('hostile-run-reports');
    execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
    const result = await cli(['run', dir, '--reports-dir', reports]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/pipe\.yaml: not a regular file/);
    expect(readdirSync(reports)).toEqual([]);
  });
});

describe('where the evidence goes is checked before the first drill', () => {
  it('a reports folder that cannot be made, and a --junit or --metrics that is a folder: exit 2 naming the flag, nothing run', async () => {
    const drills = tempDir('outputs-drills');
    writeDrill(drills, drillYaml({ name: 'outputs' }));
    const file = join(tempDir('outputs-file'), 'a-file');
    writeFileSync(file, '');

    const underFile = await cli(['run', drills, '--reports-dir', join(file, 'reports')]);
    expect(underFile.exitCode).toBe(2);
    expect(underFile.stderr).toMatch(/--reports-dir: cannot write in .*a-file\/reports \(.*ENOTDIR.*\); choose a folder you can write to/);
    expect(underFile.stderr).not.toMatch(/▶ outputs/);

    const reports = tempDir('outputs-reports');
    const folder = tempDir('outputs-folder');
    for (const flag of ['--junit', '--metrics']) {
      const result = await cli(['run', drills, '--reports-dir', reports, flag, folder]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`${flag}: ${folder} is a folder; name a file`));
      noStackTrace(result.stderr);
    }
    expect(readdirSync(reports)).toEqual([]);
  });

  it.runIf(isRoot)('a reports folder without room for a run: exit 2 with the free space and the need (root: mounts a small tmpfs)', async () => {
    const drills = tempDir('room-drills');
    writeDrill(drills, drillYaml({ name: 'room' }));
    const reports = tmpfs('room-reports', '8m');
    const result = await cli(['run', drills, '--reports-dir', reports]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--reports-dir: .* has 8\.0 MiB free; a run needs at least 64\.0 MiB/);
    expect(readdirSync(reports)).toEqual([]);
  });

  it.runIf(isRoot)('a read-only reports folder: exit 2 naming it (root: a tmpfs mounted read-only)', async () => {
    const drills = tempDir('ro-drills');
    writeDrill(drills, drillYaml({ name: 'read-only' }));
    const reports = tmpfs('ro-reports', '80m');
    execFileSync('mount', ['-o', 'remount,ro', reports]);
    const result = await cli(['run', drills, '--reports-dir', reports]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--reports-dir: cannot write in .* \(.*EROFS.*\)/);
    noStackTrace(result.stderr);
  });
});

describe('room for the drill itself', () => {
  it.runIf(isRoot)('a temp folder too small for the scale of the drill: exit 2 before any server starts, naming what it needs (root: a tmpfs)', async () => {
    const drills = tempDir('room-scale-drills');
    const reports = tempDir('room-scale-reports');
    writeDrill(drills, drillYaml({ name: 'too-big', dataset: { scale: 'small', seed: 1 } }));
    const temp = tmpfs('room-scale-tmp', '100m');
    chmodSync(temp, 0o755);
    const result = await cli(['run', drills, '--reports-dir', reports], { TMPDIR: temp });
    expect(result.exitCode).toBe(2);
    noStackTrace(result.stderr);
    expect(result.stderr).toMatch(/has (9\d|100)\.\d MiB free; a drill at scale small needs about 576\.0 MiB there .* set TMPDIR to a folder on a larger disk/);
    expect(readdirSync(temp).filter((name) => name.startsWith('restore-drill-'))).toEqual([]);
  });
});

describe('the disk of the reports folder fills mid-run', () => {
  it.runIf(isRoot)('exit 2 naming the journal; servers stopped, temp folders gone, the journal whole and saying so, no temp file beside it (root: a tmpfs)', async () => {
    const drills = tempDir('fill-drills');
    const reports = tmpfs('fill-reports', '72m');
    writeDrill(drills, drillYaml({ name: 'disk-fills', backup: { method: 'script', script: join(ROBUSTNESS, 'backup_then_fill_disk.sh') } }));
    const result = await cli(['run', drills, '--reports-dir', reports], { FILL_DIR: reports });
    expect(result.exitCode).toBe(2);
    noStackTrace(result.stderr);
    expect(result.stderr).toMatch(/journal\.json: the journal could not be written \(.*ENOSPC.*\), so the run stopped and its servers with it/);

    const [runId] = readdirSync(reports).filter((name) => name !== 'filler');
    const runDir = join(reports, runId!);
    // Whole, and the last word is what happened.
    const journal = JSON.parse(readFileSync(join(runDir, 'journal.json'), 'utf8')) as RunJournal;
    expect(journal.status).toBe('aborted');
    expect(journal.error).toMatch(/could not be written/);
    expect(journal.drills[0]).toMatchObject({ status: 'interrupted', verdict: 'unknown' });
    expect(journal.drills[0]!.checks).toEqual([]);
    expect(readdirSync(runDir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(processesMentioning(runId!)).toEqual([]);
    expect(tempFoldersOf(runId!)).toEqual([]);
  });
});

describe('secrets', () => {
  it('a team script that prints the password, passing and failing: it is nowhere in the console, the journal or any report', async () => {
    const drills = tempDir('leak-drills');
    const reports = tempDir('leak-reports');
    // Scripts run as the PostgreSQL user: the folder it tells the test the secrets in is open to it.
    const leakDir = tempDir('leak-secrets');
    chmodSync(leakDir, 0o777);
    const leaked = join(leakDir, 'secrets');
    const script = join(ROBUSTNESS, 'leak_secrets.sh');
    writeDrill(drills, drillYaml({ name: 'leaky', fault: { type: 'drop-database' }, backup: { method: 'script', script }, recovery: { procedure: 'script', script } }));
    const result = await cli(['run', drills, '--reports-dir', reports, '--junit', join(reports, 'ci', 'junit.xml'), '--metrics', join(reports, 'ci', 'drill.prom')], {
      LEAK_FILE: leaked,
    });
    expect(result.exitCode).toBe(1);
    const secrets = [...new Set(readFileSync(leaked, 'utf8').split('\n').filter(Boolean))];
    expect(secrets.length).toBeGreaterThan(0);
    const outputs = filesUnder(reports);
    // The failing script's words are recorded, without the password.
    expect([...outputs.values()].some((text) => text.includes('restore failed for ****'))).toBe(true);
    expect([...outputs.values()].some((text) => text.includes('connecting with password ****'))).toBe(true);
    for (const secret of secrets) {
      expect(result.stdout + result.stderr).not.toContain(secret);
      for (const [path, text] of outputs) expect(text.includes(secret), `${path} holds the password`).toBe(false);
    }
    expect(existsSync(join(reports, 'ci', 'junit.xml'))).toBe(true);
  });
});
