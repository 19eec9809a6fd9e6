/** The `restore-drill` command as a user runs it: a real process, exit codes, files, Ctrl-C. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { RunJournal } from '../src/model/journal.js';
import { drillYaml, processesMentioning, tempDir, tempFoldersOf, writeDrill } from './helpers.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

function onlyRun(reportsDir: string): { dir: string; journal: RunJournal } {
  const [runId] = readdirSync(reportsDir);
  const dir = join(reportsDir, runId!);
  return { dir, journal: JSON.parse(readFileSync(join(dir, 'journal.json'), 'utf8')) as RunJournal };
}

describe('restore-drill run', () => {
  it('runs a drill, prints one line per phase, writes report.md, report.html and journal.json, exits 0', async () => {
    const drills = tempDir('cli-drills');
    const reports = tempDir('cli-reports');
    writeDrill(drills, drillYaml({ name: 'cli-table-drop' }));
    const result = await execa('node', [...CLI, 'run', drills, '--reports-dir', reports], { reject: false });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/✓ cli-table-drop: backup/);
    expect(result.stderr).toMatch(/✓ cli-table-drop: recovery/);
    // One line per phase: no start line beside each end line.
    expect(result.stderr).not.toMatch(/… cli-table-drop/);
    expect(result.stdout.split('\n').at(-1)).toMatch(/^1\/1 drills passed in [\d.]+m?s\.$/);
    const { dir, journal } = onlyRun(reports);
    expect(journal.status).toBe('completed');
    expect(existsSync(join(dir, 'report.html'))).toBe(true);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(report.split('\n')[0]).toBe('# ✅ PASS: all 1 drills passed');
    expect(report).toMatch(/\n\| \[cli-table-drop\]\(#cli-table-drop\) \| drop-table → restore-table \| ✅ [\d.]+\u00a0m?s \/ 15\u00a0min \| ✅ 0\u00a0ms \/ 24\u00a0h \| ✅ PASS \|\n/);
    expect(report).toMatch(/\| ✅ PASS \| fingerprint \| content fingerprint matches the backup in all 5 tables \|/);
  });

  it('exits 1 when a drill fails a check', async () => {
    const drills = tempDir('cli-fail');
    const reports = tempDir('cli-fail-reports');
    writeDrill(drills, drillYaml({ name: 'cli-unrecovered', recovery: { procedure: 'none' } }));
    const result = await execa('node', [...CLI, 'run', drills, '--reports-dir', reports], { reject: false });
    expect(result.exitCode).toBe(1);
    expect(readFileSync(join(onlyRun(reports).dir, 'report.md'), 'utf8')).toMatch(/❌ FAIL \| fingerprint \| content fingerprint differs from the backup in candles/);
    // The last line names the drill that failed and its first failing check.
    expect(result.stdout.split('\n').at(-1)).toMatch(/^0\/1 drills passed in [\d.]+m?s; not passed: cli-unrecovered failed \(schema\)$/);
  });

  it('exits 2 with guidance when no PostgreSQL binaries can be found', async () => {
    const drills = tempDir('cli-nobin');
    const reports = tempDir('cli-nobin-reports');
    writeDrill(drills, drillYaml({ name: 'cli-nobin' }));
    const result = await execa('node', [...CLI, 'run', drills, '--reports-dir', reports], {
      reject: false,
      env: { RESTORE_DRILL_PG_BIN: '/nonexistent/pg/bin' },
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/RESTORE_DRILL_PG_BIN=\/nonexistent\/pg\/bin does not hold the PostgreSQL server binaries/);
    expect(onlyRun(reports).journal.drills[0]).toMatchObject({ status: 'aborted', errorCode: 'PG_BINARIES_NOT_FOUND' });
  });

  it('on Ctrl-C stops its servers, removes its temp folders and leaves a journal that says interrupted', async () => {
    const drills = tempDir('cli-sigint');
    const reports = tempDir('cli-sigint-reports');
    writeDrill(drills, drillYaml({ name: 'cli-sigint', workload: { rate: 50, lead: '20s', afterBackup: '1s' } }));
    const child = execa('node', [...CLI, 'run', drills, '--reports-dir', reports], { reject: false });
    // Interrupt while the workload writes: a server is up and a client is connected.
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('cli-sigint: workload')) resolve();
      });
    });
    const { journal: during } = onlyRun(reports);
    expect(processesMentioning(during.runId).length).toBeGreaterThan(0);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    const { dir, journal } = onlyRun(reports);
    expect(journal.status).toBe('interrupted');
    expect(journal.drills[0]).toMatchObject({ status: 'interrupted', verdict: 'unknown' });
    expect(journal.drills[0]!.phases.at(-1)).toMatchObject({ name: 'workload', status: 'failed', error: 'interrupted' });
    expect(existsSync(join(dir, 'report.md'))).toBe(true);
    expect(processesMentioning(journal.runId)).toEqual([]);
    expect(tempFoldersOf(journal.runId)).toEqual([]);
  });

  it('on Ctrl-C during recovery records no finding of it: the drill is interrupted, history keeps it apart, the evidence verifies', async () => {
    const drills = tempDir('cli-sigint-recovery');
    const reports = tempDir('cli-sigint-recovery-reports');
    writeDrill(
      drills,
      drillYaml({ name: 'cli-sigint-recovery', fault: { type: 'drop-database' }, recovery: { procedure: 'script', script: resolve('test/sabotage/restore_slowly.sh') } }),
    );
    const child = execa('node', [...CLI, 'run', drills, '--reports-dir', reports], { reject: false });
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('cli-sigint-recovery: recovery')) resolve();
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(130);
    const { dir, journal } = onlyRun(reports);
    const drill = journal.drills[0]!;
    expect(drill).toMatchObject({ status: 'interrupted', verdict: 'unknown' });
    // What the cleanup broke under the running recovery is not a finding.
    expect(drill.checks.filter((c) => c.verdict === 'fail')).toEqual([]);
    expect(drill.rpo).toBeUndefined();
    const history = readFileSync(join(reports, 'history.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { status: string });
    expect(history.map((h) => h.status)).toEqual(['interrupted']);
    const status = await execa('node', [...CLI, 'status', '--reports-dir', reports], { reject: false });
    expect(status.stderr).toMatch(/no drill has run yet/);
    const verified = await execa('node', [...CLI, 'verify-evidence', dir], { reject: false });
    expect(verified.stdout).toMatch(/^ok: \d+ files checked/m);
    expect(verified.exitCode).toBe(0);
    expect(processesMentioning(journal.runId)).toEqual([]);
    // The restore script's own process group went too, its sleep with it.
    expect(processesMentioning('restore_slowly.sh')).toEqual([]);
    expect(tempFoldersOf(journal.runId)).toEqual([]);
  });
});
