/**
 * The team's own checks: validation queries and smoke-test commands. They
 * pass on an honest restore, fail on one that did not bring the data back,
 * cannot write, are parsed by the server before any backup, and never leak
 * the password a command prints.
 */
import { chmodSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DrillJournal } from '../src/model/journal.js';
import { check, drillYaml, runDrills, tempDir, writeDrill } from './helpers.js';

const drills = tempDir('team-checks-drills');
const reports = tempDir('team-checks-reports');
const SMOKE = resolve('fixtures/scripts/smoke_test.sh');

const queries = [
  { name: 'trades-without-an-order', sql: 'select count(*) from trades t where not exists (select 1 from orders o where o.order_id = t.order_id)', expect: { equals: 0 } },
  { name: 'positions-as-at-the-backup', sql: 'select count(*) from positions', expect: { sameAsBackup: true } },
  { name: 'symbols-listed', sql: 'select count(*) from symbols', expect: { between: [1, 1000] } },
];

async function runOne(overrides: Record<string, unknown>): Promise<DrillJournal> {
  const file = writeDrill(drills, drillYaml({ fault: { type: 'drop-database' }, recovery: { procedure: 'restore-database' }, queries, commands: [{ name: 'smoke', run: SMOKE }], ...overrides }));
  return (await runDrills([file], reports)).journal.drills[0]!;
}

afterEach(() => {
  delete process.env.LEAK_FILE;
});

describe("the team's validation queries and smoke tests", () => {
  it('pass on an honest restore, each a check of its own, with the value and the expectation', async () => {
    const drill = await runOne({ name: 'team-honest' });
    expect(drill.verdict).toBe('pass');
    expect(check(drill, 'sql trades-without-an-order')).toMatchObject({ verdict: 'pass', summary: '0, expected = 0' });
    expect(check(drill, 'sql positions-as-at-the-backup').summary).toMatch(/^100, expected the same as at the backup \(100\)$/);
    expect(check(drill, 'command smoke').summary).toMatch(/exited 0: smoke test passed: 10 symbols priced/);
  });

  it('fail when the restore left one table empty: the query comparing with the backup and the smoke test catch it', async () => {
    const drill = await runOne({ name: 'team-liar', recovery: { procedure: 'script', script: resolve('test/sabotage/restore_all_but_one_table.sh') } });
    expect(drill.verdict).toBe('fail');
    expect(check(drill, 'sql positions-as-at-the-backup')).toMatchObject({ verdict: 'fail', summary: '0, expected the same as at the backup (100)' });
    expect(check(drill, 'sql trades-without-an-order').verdict).toBe('pass');
  });

  it('fail, naming the error, when the database is not there to query; the smoke test fails too', async () => {
    const drill = await runOne({ name: 'team-nothing', recovery: { procedure: 'none' } });
    expect(check(drill, 'sql symbols-listed')).toMatchObject({ verdict: 'fail' });
    expect(check(drill, 'sql symbols-listed').summary).toMatch(/the query failed on the recovered database: .*database "market" does not exist/);
    expect(check(drill, 'command smoke').verdict).toBe('fail');
  });

  it('run read-only: a query that would delete rows fails and deletes nothing', async () => {
    const drill = await runOne({
      name: 'team-writer',
      queries: [{ name: 'sneaky-delete', sql: 'with d as (delete from trades returning 1) select count(*) from d', expect: { equals: 0 } }],
    });
    expect(check(drill, 'sql sneaky-delete')).toMatchObject({ verdict: 'fail' });
    expect(check(drill, 'sql sneaky-delete').summary).toMatch(/cannot execute \w+ in a read-only transaction/);
    expect(check(drill, 'row-counts').verdict).toBe('pass');
  });

  it('a query the server cannot plan is a drill file error before any backup, naming the query', async () => {
    const drill = await runOne({ name: 'team-typo', queries: [{ name: 'typo', sql: 'select count(*) from tardes', expect: { equals: 0 } }] });
    expect(drill).toMatchObject({ status: 'aborted', errorCode: 'DRILL_FILE_INVALID' });
    expect(drill.error).toMatch(/team-typo\.yaml: queries\[0\]\.sql: relation "tardes" does not exist/);
    expect(drill.phases.map((p) => p.name)).not.toContain('backup');
  });

  it("a smoke test that prints the password: its words are kept, the password is not", async () => {
    const leakDir = tempDir('team-leak');
    chmodSync(leakDir, 0o777);
    process.env.LEAK_FILE = join(leakDir, 'secrets');
    const drill = await runOne({ name: 'team-leak', commands: [{ name: 'leaky', run: resolve('test/robustness/leak_secrets.sh') }] });
    const secret = readFileSync(process.env.LEAK_FILE, 'utf8').trim();
    expect(secret.length).toBeGreaterThan(8);
    expect(check(drill, 'command leaky')).toMatchObject({ verdict: 'fail', summary: 'exited with code 3: restore failed for ****' });
    expect(JSON.stringify(drill)).not.toContain(secret);
  });
});
