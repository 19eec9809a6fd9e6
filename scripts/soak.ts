/**
 * The soak: many tiny drills in a row through the real command, a share of
 * them cut short by Ctrl-C or SIGKILL at a random moment, and afterwards a
 * count of what the harness left behind: processes, mounts and temp folders
 * (all must be 0), and journals that are neither complete nor interrupted
 * (must be 0). Run with `npm run soak [-- --drills N --seed S]`.
 *
 * Everything happens under one temp folder of its own (TMPDIR for the runs),
 * so what is counted is this soak's and nothing of another run is touched.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';

const { values } = parseArgs({ options: { drills: { type: 'string', default: '100' }, seed: { type: 'string', default: '1' } } });
const drills = Number(values.drills);
if (!Number.isInteger(drills) || drills < 1) throw new Error(`--drills: expected a whole number of drills, got "${values.drills}"`);

/** Repeatable choices: the same --seed cuts the same drills at the same moments. */
let state = Number(values.seed) >>> 0 || 1;
function random(): number {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 2 ** 32;
}

const root = mkdtempSync(join(tmpdir(), 'rd-soak-'));
// The servers run as the postgres user when the soak runs as root: it must reach its folders in here.
chmodSync(root, 0o755);
const reports = join(root, 'reports');
const drillDir = join(root, 'drills');
mkdirSync(drillDir);
writeFileSync(
  join(drillDir, 'soak.yaml'),
  [
    'name: soak',
    'dataset: { scale: tiny, seed: 7 }',
    'workload: { rate: 50, lead: 300ms, afterBackup: 500ms }',
    'backup: { method: pg_dump }',
    'fault: { type: drop-table, table: candles }',
    'recovery: { procedure: restore-table }',
    'targets: { rto: 15m, rpo: 24h }',
    '',
  ].join('\n'),
);

const cli = resolve('src/cli/main.ts');
/** How each run ended, by what happened rather than what was planned: a cut can come after a run already finished. */
const ended = { passed: 0, failed: 0, interruptedBySigint: 0, killedBySigkill: 0, other: 0 };
const started = performance.now();

for (let i = 1; i <= drills; i++) {
  // The last drill always finishes: a killed run's leftovers are removed by the next run, and the last one has no next.
  const roll = i === drills ? 1 : random();
  const cut = roll < 0.25 ? 'SIGINT' : roll < 0.5 ? 'SIGKILL' : undefined;
  const child = execa('node', ['--import', 'tsx', cli, 'run', drillDir, '--reports-dir', reports], {
    reject: false,
    cwd: resolve('.'),
    env: { TMPDIR: root, RESTORE_DRILL_CACHE: join(root, 'seed-cache') },
    timeout: 300_000,
  });
  if (cut) {
    // Anywhere from the start of the process to past a tiny drill's end (about 4 s).
    const after = 200 + Math.floor(random() * 5000);
    setTimeout(() => child.kill(cut), after).unref();
  }
  const result = await child;
  // A Ctrl-C in the first moment, before the harness has set its handler, ends node itself: nothing had started.
  const outcome =
    result.signal === 'SIGKILL'
      ? 'killedBySigkill'
      : result.exitCode === 130 || result.signal === 'SIGINT'
        ? 'interruptedBySigint'
        : result.exitCode === 0
          ? 'passed'
          : result.exitCode === 1
            ? 'failed'
            : 'other';
  ended[outcome]++;
  process.stderr.write(`${i}/${drills} ${cut ? `${cut} planned` : 'run'} → ${outcome} (${result.exitCode ?? result.signal})\n`);
}

/** What the harness left: live processes naming the soak folder, mounts under it, its temp folders. */
function leftovers(): { processes: string[]; mounts: string[]; folders: string[] } {
  const processes: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const zombie = /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (!zombie && cmdline.includes(root) && Number(pid) !== process.pid) processes.push(`${pid}: ${cmdline}`);
    } catch {
      // Ended while we looked.
    }
  }
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((line) => line.split(' ')[1]?.startsWith(root));
  const folders = readdirSync(root).filter((name) => name.startsWith('restore-drill-'));
  return { processes, mounts, folders };
}

/** Journals that say neither how the run ended nor that it was cut short. */
function unfinishedJournals(): string[] {
  const bad: string[] = [];
  for (const run of readdirSync(reports).filter((name) => name !== 'history.jsonl')) {
    try {
      const { status } = JSON.parse(readFileSync(join(reports, run, 'journal.json'), 'utf8')) as { status: string };
      if (!['completed', 'interrupted'].includes(status)) bad.push(`${run}: ${status}`);
    } catch (error) {
      bad.push(`${run}: ${(error as Error).message}`);
    }
  }
  return bad;
}

const left = leftovers();
const unfinished = unfinishedJournals();
const summary = {
  drills,
  ...ended,
  runFolders: readdirSync(reports).filter((name) => name !== 'history.jsonl').length,
  unfinishedJournals: unfinished.length,
  leftoverProcesses: left.processes.length,
  leftoverMounts: left.mounts.length,
  leftoverTempFolders: left.folders.length,
  minutes: Number(((performance.now() - started) / 60_000).toFixed(1)),
};
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
for (const line of [...unfinished, ...left.processes, ...left.mounts, ...left.folders]) process.stderr.write(`left: ${line}\n`);

// A drill that ran to its end must pass (nothing about it is hard), and nothing may be left.
const clean = unfinished.length === 0 && left.processes.length + left.mounts.length + left.folders.length === 0;
if (clean) rmSync(root, { recursive: true, force: true });
else process.stderr.write(`soak folder kept for inspection: ${root}\n`);
process.exit(clean && ended.failed === 0 && ended.other === 0 ? 0 : 1);
