/**
 * The team's own backup and restore scripts as a CI gate, and what a run
 * leaves for CI and auditors: JUnit, the step summary, metrics, history,
 * status, and an evidence bundle that detects any change.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { RunJournal } from '../src/model/journal.js';
import { check, drillYaml, processesMentioning, recoveryOf, runDrills, tempDir, writeDrill } from './helpers.js';

const SCRIPTS = resolve('fixtures/scripts');
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const drills = tempDir('script-drills');
const reports = tempDir('script-reports');

const withScripts = (name: string, backupScript: string, extra: Record<string, unknown> = {}) =>
  drillYaml({
    name,
    backup: { method: 'script', script: backupScript, timeout: '30s' },
    fault: { type: 'drop-database' },
    recovery: { procedure: 'script', script: join(SCRIPTS, 'restore_database.sh') },
    targets: { rto: '1h', rpo: '24h' },
    ...extra,
  });

describe("the team's scripts", () => {
  it('backup_database.sh and restore_database.sh pass a drill: its dump, sidecar and output recorded', async () => {
    const { journal } = await runDrills([writeDrill(drills, withScripts('team-ok', join(SCRIPTS, 'backup_database.sh')))], reports);
    const drill = journal.drills[0]!;
    expect(drill.verdict).toBe('pass');
    expect(drill.backup).toMatchObject({ method: 'script', format: 'custom', sidecar: expect.stringMatching(/\.dump\.sha256$/) });
    expect((drill.backup as { detail: { output: string } }).detail.output).toMatch(/Backup completed successfully/);
    expect(check(drill, 'backup-integrity').summary).toMatch(/passed sha256 sidecar, pg_restore --list/);
    expect(String(recoveryOf(drill)?.summary)).toMatch(/restore_database\.sh restored .*\.dump$/);
  });

  it.each([
    ['backup_exits_nonzero.sh', 'backup', /the backup failed: .*backup_exits_nonzero\.sh exited with code 1/],
    ['backup_writes_nothing.sh', 'backup', /exited 0 but wrote no backup into BACKUP_DIR \(it wrote nothing at all\)/],
    ['backup_empty_dump.sh', 'backup-integrity', /caught by pg_restore --list/],
  ])('%s fails the drill, and the %s check says why', async (script, failing, why) => {
    const { journal } = await runDrills([writeDrill(drills, withScripts(`broken-${script.replace(/[._]/g, '-')}`, join(SCRIPTS, 'broken', script)))], reports);
    const drill = journal.drills[0]!;
    expect(drill.verdict).toBe('fail');
    expect(check(drill, failing)).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(why) });
  });

  it('a script that hangs is killed at its timeout, with everything it started, and fails the drill', async () => {
    const { journal } = await runDrills(
      [writeDrill(drills, drillYaml({ ...withScripts('broken-hangs', join(SCRIPTS, 'broken', 'backup_hangs.sh')), backup: { method: 'script', script: join(SCRIPTS, 'broken', 'backup_hangs.sh'), timeout: '2s' } }))],
      reports,
    );
    expect(check(journal.drills[0]!, 'backup')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(/did not finish within 2s and was killed; its last words: waiting for a lock/) });
    expect(processesMentioning('sleep 3600')).toEqual([]);
  });

  it('a script path that does not exist is an input error naming the drill file and the field', async () => {
    const file = writeDrill(drills, withScripts('no-script', 'scripts/nope.sh'));
    const result = await execa('node', [...CLI, 'validate', file], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/no-script\.yaml: backup\.script: scripts\/nope\.sh \(.*\) does not exist or is not executable/);
  });
});

describe('what a run leaves for CI and auditors', () => {
  it('JUnit names the failing check, the step summary and metrics are written, history feeds status', async () => {
    const dir = tempDir('ci-gate');
    const out = tempDir('ci-gate-reports');
    writeDrill(dir, withScripts('gate-ok', join(SCRIPTS, 'backup_database.sh')));
    writeDrill(dir, withScripts('gate-broken', join(SCRIPTS, 'broken', 'backup_empty_dump.sh')));
    const summary = join(out, 'step-summary.md');
    writeFileSync(summary, '# earlier step\n');
    const junit = join(out, 'junit', 'restore-drill.xml');
    const metrics = join(out, 'textfile', 'restore_drill.prom');
    const result = await execa('node', [...CLI, 'run', dir, '--reports-dir', out, '--junit', junit, '--metrics', metrics], {
      reject: false,
      env: { GITHUB_STEP_SUMMARY: summary },
    });
    expect(result.exitCode).toBe(1);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuite name="restore-drill" tests="2" failures="1"/);
    expect(xml).toMatch(/<testcase classname="restore-drill\.gate-broken" name="gate-broken" file="[^"]*gate-broken\.yaml"[^>]*>\s*<failure message="backup-integrity: no backup passed its checks[^"]*" type="backup-integrity[^"]*"/);
    expect(xml.match(/<failure /g)).toHaveLength(1);
    expect(readFileSync(summary, 'utf8')).toMatch(/^# earlier step\n# ❌ FAIL: gate-broken failed \(1 of 2 drills passed\)\n[\s\S]*\n\| gate-broken \|[^\n]*❌ FAIL( \(\w+\))? \|/);
    const prom = readFileSync(metrics, 'utf8');
    expect(prom).toMatch(/^drill_success\{drill="gate-ok"\} 1$/m);
    expect(prom).toMatch(/^drill_success\{drill="gate-broken"\} 0$/m);
    expect(prom).toMatch(/^drill_last_success_timestamp_seconds\{drill="gate-ok"\} \d+/m);

    const history = readFileSync(join(out, 'history.jsonl'), 'utf8').trim().split('\n');
    expect(history.map((line) => JSON.parse(line).drill).sort()).toEqual(['gate-broken', 'gate-ok']);
    const status = await execa('node', [...CLI, 'status', '--reports-dir', out, '--max-age', '1h'], { reject: false });
    expect(status.exitCode).toBe(1); // gate-broken never passed
    expect(status.stdout).toMatch(/gate-broken \| never \| n\/a \| 1h 00m \| fail \| STALE/);
    expect(status.stdout).toMatch(/gate-ok \| \d{4}-.* \| [\d.]+m?s \| 1h 00m \| pass$/m);

    const [runId] = readdirSync(out).filter((n) => /^\d{8}T/.test(n));
    const report = readFileSync(join(out, runId!, 'report.md'), 'utf8');
    expect(report).toMatch(/```mermaid\ngantt\n    title gate-ok/);
    expect(report).toMatch(/- \[x\] \*\*Restore completed\*\*/);
    expect(report).toMatch(/- \[ \] \*\*Backup accessible and intact\*\* \(not ticked\): backup-integrity failed: no backup passed its checks/);
    // The broken drill's database is gone: nothing was seen present, so nothing is ticked.
    expect(report).toMatch(/- \[ \] \*\*Tables present\*\* \(not ticked\): schema failed: database "market" cannot be read/);
    const journal = JSON.parse(readFileSync(join(out, runId!, 'journal.json'), 'utf8')) as RunJournal;
    expect(journal.recentRuns?.['gate-ok']).toHaveLength(1);
  });

  it('verify-evidence passes on a fresh signed bundle, and fails naming the file after one byte of the report changes', async () => {
    const dir = tempDir('evidence');
    const out = tempDir('evidence-reports');
    const key = join(dir, 'evidence.key');
    const pub = join(dir, 'evidence.pub');
    expect((await execa('node', [...CLI, 'keygen', key, pub])).exitCode).toBe(0);
    writeDrill(dir, drillYaml({ name: 'signed' }));
    expect((await execa('node', [...CLI, 'run', join(dir, 'signed.yaml'), '--reports-dir', out, '--sign-key', key], { reject: false })).exitCode).toBe(0);
    const [runId] = readdirSync(out).filter((n) => /^\d{8}T/.test(n));
    const bundle = join(out, runId!);
    expect(existsSync(join(bundle, 'manifest.sig'))).toBe(true);
    const fresh = await execa('node', [...CLI, 'verify-evidence', bundle, '--public-key', pub], { reject: false });
    expect(fresh.exitCode).toBe(0);
    expect(fresh.stdout).toMatch(/^ok: \d+ files checked, signature valid$/m);

    const report = join(bundle, 'report.md');
    const bytes = readFileSync(report);
    bytes[10] = bytes[10]! ^ 0x01;
    writeFileSync(report, bytes);
    appendFileSync(join(bundle, 'extra.txt'), 'added later');
    const tampered = await execa('node', [...CLI, 'verify-evidence', bundle, '--public-key', pub], { reject: false });
    expect(tampered.exitCode).toBe(1);
    expect(tampered.stderr).toMatch(/changed: report\.md: SHA-256 changed/);
    expect(tampered.stderr).toMatch(/changed: extra\.txt was added after the manifest was written/);
    expect(tampered.stderr).not.toMatch(/journal\.json/);
  });

  it('a signing key that is not Ed25519 is refused before the run starts', async () => {
    const dir = tempDir('badkey');
    writeFileSync(join(dir, 'not-a-key.pem'), 'hello');
    writeDrill(dir, drillYaml({ name: 'badkey' }));
    const result = await execa('node', [...CLI, 'run', join(dir, 'badkey.yaml'), '--reports-dir', join(dir, 'out'), '--sign-key', join(dir, 'not-a-key.pem')], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/not-a-key\.pem: not a PEM private key .*restore-drill keygen/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });
});
