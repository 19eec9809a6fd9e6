/**
 * Drills split across CI jobs and merged back: three shards run as three
 * processes, each in its own reports folder as separate jobs would, then
 * merge-reports. The merge lists exactly the drills and verdicts one
 * unsharded run gives; a missing, repeated or tampered shard is refused,
 * naming what is wrong; a shard index that was never set is a usage error.
 * The same drills run three at once (--jobs) give the same verdicts.
 */
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunJournal } from '../src/model/journal.js';
import { drillYaml, onlyRun, processesMentioning, tempDir, writeDrill } from './helpers.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const cli = (args: string[]) => execa('node', [...CLI, ...args], { reject: false, timeout: 300_000 });

const drills = tempDir('shard-drills');
writeDrill(drills, drillYaml({ name: 'shard-a' }));
writeDrill(drills, drillYaml({ name: 'shard-b', fault: { type: 'drop-table', table: 'trades' } }));
writeDrill(drills, drillYaml({ name: 'shard-c', recovery: { procedure: 'none' } })); // fails by design
writeDrill(drills, drillYaml({ name: 'shard-d', fault: { type: 'drop-database' }, recovery: { procedure: 'restore-database' } }));


const verdicts = (journal: RunJournal) => Object.fromEntries(journal.drills.map((d) => [d.name, d.verdict]));
const shardFolders: string[] = [];
let unsharded: RunJournal;

beforeAll(async () => {
  for (let k = 1; k <= 3; k++) {
    const reports = tempDir(`shard-${k}-reports`);
    const result = await cli(['run', drills, '--shard', `${k}/3`, '--reports-dir', reports]);
    expect([0, 1]).toContain(result.exitCode);
    expect(result.stderr).toMatch(new RegExp(`shard ${k}/3: \\d of 4 drill\\(s\\)`));
    shardFolders.push(onlyRun(reports).folder);
  }
  const whole = tempDir('unsharded-reports');
  await cli(['run', drills, '--reports-dir', whole]);
  unsharded = onlyRun(whole).journal;
}, 600_000);

describe('shards and merge-reports', () => {
  it('the shards split the drills between them, each exactly once, and say so in their journals', () => {
    const journals = shardFolders.map((folder) => JSON.parse(readFileSync(join(folder, 'journal.json'), 'utf8')) as RunJournal);
    const owned = journals.flatMap((j) => j.shard!.owned);
    expect(owned.sort()).toEqual(['shard-a', 'shard-b', 'shard-c', 'shard-d']);
    for (const journal of journals) {
      expect(journal.shard!.all).toEqual(['shard-a', 'shard-b', 'shard-c', 'shard-d']);
      expect(journal.drills.map((d) => d.name)).toEqual(journal.shard!.owned);
    }
  });

  it('merged, the report lists exactly the drills and verdicts of one unsharded run, with every output and a manifest that verifies', async () => {
    const merged = tempDir('merged-reports');
    const result = await cli(['merge-reports', ...shardFolders, '--reports-dir', merged]);
    expect(result.exitCode).toBe(1); // shard-c fails by design, as it does unsharded
    expect(result.stdout).toMatch(/merged 3 shard\(s\), 4 drill\(s\)/);
    const { folder, journal } = onlyRun(merged);
    expect(verdicts(journal)).toEqual(verdicts(unsharded));
    expect(journal.drills.map((d) => d.name)).toEqual(['shard-a', 'shard-b', 'shard-c', 'shard-d']);
    expect(journal.merged!.shards.map((s) => s.index)).toEqual([1, 2, 3]);
    for (const file of ['report.md', 'report.html', 'junit.xml', 'metrics.prom', 'manifest.json']) expect(readdirSync(folder)).toContain(file);
    expect(readFileSync(join(merged, 'history.jsonl'), 'utf8').trim().split('\n')).toHaveLength(4);
    const verified = await cli(['verify-evidence', folder]);
    expect(verified.exitCode).toBe(0);
    // Every drill file came along from its shard.
    for (const drill of journal.drills) expect(readdirSync(join(folder, drill.name))).toContain('drill.yaml');
  });

  it('refuses a missing shard, naming its drills; a shard given twice; and a shard whose folder was changed', async () => {
    const missing = await cli(['merge-reports', shardFolders[0]!, shardFolders[1]!, '--reports-dir', tempDir('merge-missing')]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/shard 3\/3 is missing .*no shard ran shard-/);

    const twice = await cli(['merge-reports', ...shardFolders, shardFolders[0]!, '--reports-dir', tempDir('merge-twice')]);
    expect(twice.exitCode).toBe(2);
    expect(twice.stderr).toMatch(/shard 1\/3 is given 2 times/);

    appendFileSync(join(shardFolders[1]!, 'report.md'), '\nall green, trust me\n');
    const tampered = tempDir('merge-tampered');
    const changed = await cli(['merge-reports', ...shardFolders, '--reports-dir', tampered]);
    expect(changed.exitCode).toBe(2);
    expect(changed.stderr).toMatch(/does not match its manifest, so it cannot be merged: .*report\.md/);
    expect(readdirSync(tampered)).toEqual([]);
  });

  it('with --jobs 3, one run gives the verdicts of one after another, files each command to its own drill, and says the timings competed', async () => {
    const reports = tempDir('jobs-reports');
    const result = await cli(['run', drills, '--jobs', '3', '--reports-dir', reports]);
    expect(result.exitCode).toBe(1); // shard-c fails by design
    const { folder, journal } = onlyRun(reports);
    expect(verdicts(journal)).toEqual(verdicts(unsharded));
    expect(journal.options.jobs).toBe(3);
    const spans = journal.drills.map((d) => [Date.parse(d.startedAt), Date.parse(d.endedAt!)] as const);
    const overlapping = spans.some(([start, end], i) => spans.some(([otherStart, otherEnd], j) => i !== j && start < otherEnd && otherStart < end));
    expect(overlapping).toBe(true);
    for (const drill of journal.drills) {
      expect(drill.concurrency).toBeGreaterThan(1);
      // Every command that names a drill's temp folder names its own: none was filed to a drill running beside it.
      // (The engine's initdb template is the run's, made once for whichever drill needed it first.)
      const commands = drill.phases.flatMap((p) => p.commands.map((c) => c.command));
      const folders = commands
        .flatMap((c) => [...c.matchAll(new RegExp(`restore-drill-${journal.runId}-([\\w-]+?)-\\w{6}/`, 'g'))].map((m) => m[1]))
        .filter((name) => name !== 'template');
      expect(folders.length).toBeGreaterThan(0);
      expect(new Set(folders)).toEqual(new Set([drill.name]));
    }
    const report = readFileSync(join(folder, 'report.md'), 'utf8');
    expect(report).toMatch(/up to 3 drills at once \(--jobs\): their timings competed for the machine/);
    expect(report).toMatch(/\*\*Timed beside other drills:\*\* up to [23] drills ran at once while this one did/);
    expect(processesMentioning(journal.runId)).toEqual([]);
  });

  it('--jobs that is not a whole number from 1 to 64 is a usage error', async () => {
    const result = await cli(['run', drills, '--jobs', '0', '--reports-dir', tempDir('jobs-zero')]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--jobs: expected a whole number of drills at once from 1 to 64 \(e\.g\. --jobs 2\), got "0"/);
  });

  it('a shard index that was never set is a usage error, never "run everything"', async () => {
    const result = await cli(['run', drills, '--shard', '/3', '--reports-dir', tempDir('shard-unset')]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--shard: expected K\/N with 1 ≤ K ≤ N .* got "\/3"; in CI, check that the shard index variable is set/);
  });

  it('status with the drill files: a drill no shard ran is stale, never silence', async () => {
    const history = join(tempDir('status-history'), 'history.jsonl');
    // Only shard 1's drills are in this history, as if the other jobs never ran.
    const first = JSON.parse(readFileSync(join(shardFolders[0]!, 'journal.json'), 'utf8')) as RunJournal;
    const shardHistory = join(shardFolders[0]!, '..', 'history.jsonl');
    appendFileSync(history, readFileSync(shardHistory, 'utf8'));
    const result = await cli(['status', drills, '--history', history]);
    expect(result.exitCode).toBe(1);
    const neverRan = ['shard-a', 'shard-b', 'shard-c', 'shard-d'].filter((d) => !first.shard!.owned.includes(d));
    for (const drill of neverRan) expect(result.stdout).toMatch(new RegExp(`^${drill} \\| never \\| n/a \\| .* \\| never ran \\| STALE$`, 'm'));
  });
});
