/**
 * Drilling a backup the team already has (backup.method existing): a dump of
 * a database the harness did not create, with its own schema and checks,
 * found by pattern, only read, restored into an empty instance and verified
 * without a synthetic baseline. A byte changed after the checksum, a missing
 * backup and a backup older than the RPO target each fail, naming why.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDrills } from '../src/drill/load.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { NativeEngine } from '../src/engines/native/engine.js';
import type { NativeInstance } from '../src/engines/native/instance.js';
import { findPgBinaries } from '../src/engines/shared/binaries.js';
import type { DrillJournal } from '../src/model/journal.js';
import { check, recoveryOf, runDrills, tempDir, writeDrill } from './helpers.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const DAY = 24 * 3_600_000;

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A dump with its checksum beside it, as the runbooks' backup scripts leave them. */
function withChecksum(path: string): void {
  writeFileSync(`${path}.sha256`, `${sha256(path)}  ${basename(path)}\n`);
}

describe('a backup made elsewhere (backup.method existing)', () => {
  let engine: NativeEngine;
  let production: NativeInstance;
  const backups = tempDir('team-backups');
  const drills = tempDir('existing-drills');
  const reports = tempDir('existing-reports');
  let newest: string;

  const drillOf = (name: string, overrides: Record<string, unknown> = {}) =>
    writeDrill(drills, {
      name,
      database: 'ledger',
      backup: { method: 'existing', path: join(backups, 'ledger_*.dump') },
      fault: { type: 'production-lost' },
      // The dump's roles are production's: restored without them, ownership and grants are neither restored nor compared.
      recovery: { procedure: 'restore-database', owners: false },
      queries: [
        { name: 'transfers-without-an-account', sql: 'select count(*) from transfers t where not exists (select 1 from accounts a where a.id = t.account_id)', expect: { equals: 0 } },
        { name: 'accounts', sql: 'select count(*) from accounts', expect: { equals: 50 } },
        { name: 'newest-transfer-within-a-day', sql: "select count(*) from transfers where at > now() - interval '1 day'", expect: { atLeast: 1 } },
        // Its value at the backup is in the sidecar: `restore-drill fingerprint --drill` read it in the dump's snapshot.
        { name: 'transfer-total', sql: 'select sum(amount) from transfers', expect: { sameAsBackup: true } },
      ],
      targets: { rto: '15m', rpo: '24h' },
      ...overrides,
    });

  beforeAll(async () => {
    engine = await NativeEngine.create({ runId: 'existingtest', record: () => undefined });
    production = await engine.startInstance('production', tempDir('existing-logs'));
    const admin = await production.connect('postgres');
    await admin.query('create database ledger');
    await admin.end();
    const client = await production.connect('ledger');
    await client.query('create table accounts (id int primary key, name text not null unique)');
    await client.query('create table transfers (id bigserial primary key, account_id int not null references accounts, amount numeric(12,2) not null, at timestamptz not null)');
    await client.query("insert into accounts select g, 'account ' || g from generate_series(1, 50) g");
    await client.query("insert into transfers (account_id, amount, at) select 1 + g % 50, g * 1.25, now() - g * interval '1 minute' from generate_series(1, 5000) g");
    // Not everything lives in public: the fingerprint reads every schema of the team's.
    await client.query('create schema audit');
    await client.query("create table audit.events (id int primary key, note text not null)");
    await client.query("insert into audit.events select g, 'event ' || g from generate_series(1, 20) g");
    await client.end();
    const { host, port, user, password } = production.connection;
    const env = { PGHOST: host, PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: 'ledger' };
    const pgDump = join((await findPgBinaries()).binDir, 'pg_dump');
    // Last night's dump with its fingerprint and checksum; the night before's, older, without a fingerprint.
    const older = join(backups, 'ledger_20261120.dump');
    await execa(pgDump, ['--format=custom', `--file=${older}`], { env });
    withChecksum(older);
    utimesSync(older, new Date(Date.now() - 2 * DAY), new Date(Date.now() - 2 * DAY));
    // Since then the application got its own roles, as production databases have: the drill's empty instance has none of them.
    const owner = await production.connect('ledger');
    await owner.query('create role ledger_app nologin');
    await owner.query('create role ledger_reader nologin');
    await owner.query('alter table accounts owner to ledger_app');
    await owner.query('alter table transfers owner to ledger_app');
    await owner.query('grant select on accounts, transfers to ledger_reader');
    await owner.end();
    newest = join(backups, 'ledger_20261121.dump');
    const made = await execa('node', [...CLI, 'fingerprint', '--out', `${newest}.fingerprint.json`, '--drill', drillOf('existing-honest'), '--', pgDump, '--snapshot={snapshot}', '--format=custom', `--file=${newest}`], { env, reject: false });
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.stderr).toMatch(/; 1 sameAsBackup query recorded$/);
    withChecksum(newest);
    // The team's files are private to their owner, as backup folders often are.
    chmodSync(newest, 0o600);
    await production.destroy({ keepFiles: false });
  });
  afterAll(async () => {
    await production?.destroy({ keepFiles: false });
    await engine?.dispose();
  });

  it('restores the newest match into an empty instance and passes: integrity, pg_amcheck, the source fingerprint, the team queries, RTO and the backup age', async () => {
    const before = { sha256: sha256(newest), mtimeMs: statSync(newest).mtimeMs };
    const { journal } = await runDrills([drillOf('existing-honest')], reports);
    const drill = journal.drills[0]!;
    // Without a seeded baseline, the source's fingerprint is what ticks the checklist's content boxes.
    const report = renderMarkdown(journal);
    expect(report).toMatch(/^# ✅ PASS/);
    expect(report).toContain('- [x] **Row counts match**: dump-row-counts and source-fingerprint passed');
    expect(report).toContain('- [x] **Indexes and constraints present**: source-fingerprint passed');
    const failing = drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`);
    expect(failing).toEqual([]);
    expect(drill.verdict).toBe('pass');
    expect(drill.backup).toMatchObject({ method: 'existing', detail: { source: newest, candidates: 2 } });
    expect(check(drill, 'backup-integrity').summary).toMatch(/sha256 sidecar/);
    expect(check(drill, 'amcheck').summary).toMatch(/found no corruption in ledger/);
    expect(check(drill, 'dump-row-counts').summary).toBe('every table holds the rows its dump holds: 3 tables, 5070 rows');
    expect(check(drill, 'source-fingerprint').summary).toMatch(/every table and row equals the source .* 3 tables/);
    expect(drill.recovery).toMatchObject({ procedure: 'restore-database' });
    expect(check(drill, 'sql accounts').summary).toBe('50, expected = 50');
    expect(check(drill, 'sql transfer-total').summary).toMatch(/^(\d+\.\d\d), expected the same as at the backup \(\1\)$/);
    expect(check(drill, 'rpo').summary).toMatch(/written .* ago \(.*its fingerprint's snapshot\)/);
    expect(drill.fault).toMatchObject({ type: 'production-lost' });
    // Only read: the team's backup is as it was.
    expect({ sha256: sha256(newest), mtimeMs: statSync(newest).mtimeMs }).toEqual(before);
  });

  it('with owners kept, fails naming the role the restore target lacks', async () => {
    const { journal } = await runDrills([drillOf('existing-roles', { recovery: { procedure: 'restore-database' } })], reports);
    const drill = journal.drills[0]!;
    expect(drill.verdict).toBe('fail');
    expect(String(check(drill, 'recovery').evidence.error)).toMatch(/role "ledger_(app|reader)" does not exist/);
  });

  it('fails when the restore brought the schema but not the rows, with no fingerprint and no query to catch it', async () => {
    const { journal } = await runDrills(
      [
        drillOf('existing-schema-only', {
          backup: { method: 'existing', path: join(backups, 'ledger_20261120.dump') },
          recovery: { procedure: 'script', script: resolve('test/sabotage/restore_schema_only.sh') },
          queries: [],
          targets: { rto: '15m', rpo: '30d' },
        }),
      ],
      reports,
    );
    const drill = journal.drills[0]!;
    expect(drill.checks.some((c) => c.name === 'source-fingerprint')).toBe(false);
    expect(check(drill, 'amcheck').verdict).toBe('pass');
    expect(check(drill, 'dump-row-counts')).toMatchObject({ verdict: 'fail' });
    expect(check(drill, 'dump-row-counts').summary).toMatch(/public\.accounts 0 rows, the dump 50; public\.transfers 0 rows, the dump 5000/);
    expect(drill.verdict).toBe('fail');
  });

  it('fails at integrity when one byte changed after the checksum was written, and restores nothing', async () => {
    const damaged = tempDir('damaged-backups');
    const copy = join(damaged, basename(newest));
    copyFileSync(newest, copy);
    copyFileSync(`${newest}.sha256`, `${copy}.sha256`);
    const bytes = readFileSync(copy);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(copy, bytes);
    const { journal } = await runDrills([drillOf('existing-flipped', { backup: { method: 'existing', path: copy } })], reports);
    const drill: DrillJournal = journal.drills[0]!;
    expect(drill.verdict).toBe('fail');
    expect(check(drill, 'backup-integrity')).toMatchObject({ verdict: 'fail' });
    expect(check(drill, 'backup-integrity').summary).toMatch(/sha256/);
    expect(check(drill, 'recovery').summary).toMatch(/no usable backup/);
  });

  it('fails naming the pattern when no backup matches it', async () => {
    const { journal } = await runDrills([drillOf('existing-missing', { backup: { method: 'existing', path: join(backups, 'orders_*.dump') } })], reports);
    const drill = journal.drills[0]!;
    expect(drill.verdict).toBe('fail');
    expect(check(drill, 'backup').summary).toMatch(/orders_\*\.dump: no backup matches/);
  });

  it('fails RPO when the newest backup is older than the target: a backup job that stopped', async () => {
    const { journal } = await runDrills([drillOf('existing-stale', { backup: { method: 'existing', path: join(backups, 'ledger_20261120.dump') }, queries: [] })], reports);
    const drill = journal.drills[0]!;
    expect(check(drill, 'rpo')).toMatchObject({ verdict: 'fail' });
    expect(check(drill, 'rpo').summary).toMatch(/written 48h 0\dm ago .*target 24h/);
    expect(check(drill, 'amcheck').verdict).toBe('pass');
    expect(drill.verdict).toBe('fail');
  });

  it('fails a sameAsBackup query and the fingerprint when values changed in public and in another schema, where every row count matches', async () => {
    const { journal } = await runDrills([drillOf('existing-nudged', { recovery: { procedure: 'script', script: resolve('test/sabotage/restore_then_nudge_a_transfer.sh') } })], reports);
    const drill = journal.drills[0]!;
    expect(check(drill, 'dump-row-counts').verdict).toBe('pass');
    expect(check(drill, 'sql transfer-total')).toMatchObject({ verdict: 'fail' });
    expect(check(drill, 'sql transfer-total').summary).toMatch(/^(\d+\.\d\d), expected the same as at the backup \((?!\1\))\d+\.\d\d\)$/);
    // The cent and an audit note changed, in public and in another schema: the fingerprint names both tables.
    expect(check(drill, 'source-fingerprint').verdict).toBe('fail');
    expect(check(drill, 'source-fingerprint').summary).toMatch(/audit\.events/);
    expect(check(drill, 'source-fingerprint').summary).toMatch(/transfers/);
    expect(check(drill, 'rto').summary).toMatch(/^not recovered: no verification passed/);
    expect(drill.verdict).toBe('fail');
  });

  it('leaves a sameAsBackup query unknown, naming why, when its sidecar holds another text under its name, none under it, or there is no sidecar', async () => {
    const queries = [
      { name: 'transfer-total', sql: 'select sum(amount) + 0 from transfers', expect: { sameAsBackup: true } },
      { name: 'account-count', sql: 'select count(*) from accounts', expect: { sameAsBackup: true } },
    ];
    const { journal } = await runDrills(
      [drillOf('existing-unrecorded', { queries }), drillOf('existing-no-sidecar', { backup: { method: 'existing', path: join(backups, 'ledger_20261120.dump') }, queries, targets: { rto: '15m', rpo: '30d' } })],
      reports,
    );
    const [recorded, bare] = journal.drills;
    expect(check(recorded!, 'sql transfer-total')).toMatchObject({ verdict: 'unknown' });
    expect(check(recorded!, 'sql transfer-total').summary).toMatch(/holds another query under this name \(select sum\(amount\) from transfers\); take the fingerprint .* again/);
    expect(check(recorded!, 'sql account-count').summary).toMatch(/fingerprint\.json holds no value for it; take the fingerprint with `restore-drill fingerprint --drill FILE`/);
    expect(check(recorded!, 'source-fingerprint').verdict).toBe('pass');
    // Restored, but not every check could tell: the RTO is unproven, not met and not missed.
    expect(check(recorded!, 'rto')).toMatchObject({ verdict: 'unknown', summary: expect.stringMatching(/not every check could tell .*: recovery unproven \(target 15m 00s\)/) });
    expect(recorded!.verdict).toBe('unknown');
    expect(check(bare!, 'sql account-count')).toMatchObject({ verdict: 'unknown', summary: expect.stringMatching(/the backup has no fingerprint sidecar to hold it/) });
    expect(bare!.verdict).toBe('unknown');
  });

  it('restores one table of the dump into a new database: its rows and own objects equal the source, its foreign key to a table not restored named as left out', async () => {
    const oneTable = (name: string, table: string, extra: Record<string, unknown> = {}) =>
      drillOf(name, {
        recovery: { procedure: 'restore-table', table, owners: false, ...extra },
        queries: [{ name: 'transfer-total', sql: 'select sum(amount) from transfers', expect: { sameAsBackup: true } }].filter(() => table === 'transfers'),
      });
    const { journal } = await runDrills([oneTable('existing-one-table', 'transfers'), oneTable('existing-one-audit-table', 'audit.events')], reports);
    const [transfers, events] = journal.drills;
    const failing = (drill: DrillJournal) => drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`);
    expect(failing(transfers!)).toEqual([]);
    expect(String(recoveryOf(transfers!)?.summary)).toMatch(
      /pg_restore --clean of transfers with \d+ archive entries into a new database ledger; foreign keys to or from tables not restored left out: transfers transfers_account_id_fkey$/,
    );
    expect(check(transfers!, 'dump-row-counts').summary).toBe('every table holds the rows its dump holds: 1 tables, 5000 rows');
    expect(check(transfers!, 'source-fingerprint').summary).toMatch(/^the restored table transfers, its rows and its own objects, equal the source at .*: 1 tables$/);
    expect(check(transfers!, 'sql transfer-total').verdict).toBe('pass');
    // Another schema: made in the new database with its table.
    expect(failing(events!)).toEqual([]);
    expect(check(events!, 'dump-row-counts').summary).toBe('every table holds the rows its dump holds: 1 tables, 20 rows');
    expect(check(events!, 'source-fingerprint').summary).toMatch(/^the restored table audit\.events, its rows and its own objects, equal the source/);

    // The runbooks' bare pg_restore --table: every row back, its primary key and index gone, and the fingerprint says so.
    const bare = (await runDrills([oneTable('existing-table-only', 'transfers', { tableOnly: true })], reports)).journal.drills[0]!;
    expect(check(bare, 'dump-row-counts').verdict).toBe('pass');
    expect(check(bare, 'source-fingerprint')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(/transfers_pkey/) });
    expect(bare.verdict).toBe('fail');
  });

  it('refuses a restore-table that names no table for a backup made elsewhere, and a seeded drill naming a table it does not seed', async () => {
    const unnamed = drillOf('existing-no-table', { recovery: { procedure: 'restore-table', owners: false } });
    expect(((await loadDrills([unnamed]).catch((e: unknown) => e)) as Error).message).toMatch(/recovery\.table: required: restore-table needs the table to restore/);
    const seeded = writeDrill(drills, { name: 'seeded-foreign-table', dataset: { scale: 'tiny' }, fault: { type: 'drop-table', table: 'trades' }, recovery: { procedure: 'restore-table', table: 'audit.events' }, targets: { rto: '15m', rpo: '24h' } });
    expect(((await loadDrills([seeded]).catch((e: unknown) => e)) as Error).message).toMatch(/recovery\.table audit\.events is not a table the drill seeds: expected one of .*trades/);
  });

  it('refuses a --drill with no sameAsBackup query, writing no sidecar', async () => {
    const sidecar = join(tempDir('no-queries'), 'x.fingerprint.json');
    const result = await execa('node', [...CLI, 'fingerprint', '--out', sidecar, '--drill', drillOf('existing-no-queries', { queries: [] })], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/existing-no-queries\.yaml has no query with expect: \{ sameAsBackup: true \}, so there is nothing to record for it; leave --drill out/);
    expect(existsSync(sidecar)).toBe(false);
  });

  it('refuses, before anything runs, a fault other than production-lost and a seeded dataset', async () => {
    const file = writeDrill(drills, {
      name: 'existing-invalid',
      backup: { method: 'existing', path: newest },
      dataset: { scale: 'tiny' },
      fault: { type: 'corrupt-backup' },
      // The dump's roles are production's: restored without them, ownership and grants are neither restored nor compared.
      recovery: { procedure: 'restore-database', owners: false },
      targets: { rto: '15m', rpo: '24h' },
    });
    const error = (await loadDrills([file]).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/fault\.type: existing drills a backup made elsewhere, which is never damaged .*: the fault is production-lost/);
    expect(error.message).toMatch(/dataset: existing restores the team's own data: nothing is seeded or written, so remove dataset/);
  });
});
