/**
 * `restore-drill fingerprint`: the source as it was at the moment of its
 * dump, taken in the dump's own snapshot while writes go on, and a restore
 * compared with it exactly. A fingerprint of another moment must not pass,
 * and a failed dump must leave no fingerprint vouching for it.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureState } from '../src/checks/snapshot.js';
import { parseFingerprint, compareWithSource } from '../src/checks/source-fingerprint.js';
import { NativeEngine } from '../src/engines/native/engine.js';
import type { NativeInstance } from '../src/engines/native/instance.js';
import { findPgBinaries } from '../src/engines/shared/binaries.js';
import { check, drillYaml, runDrills, tempDir, writeDrill } from './helpers.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

/**
 * The harness as a team's script finds it (RESTORE_DRILL): a wrapper the
 * postgres user, which scripts run as, can execute, with tsx's cache off so
 * it writes nowhere.
 */
function harnessWrapper(): string {
  const dir = tempDir('harness-bin');
  chmodSync(dir, 0o755);
  const wrapper = join(dir, 'restore-drill');
  writeFileSync(wrapper, `#!/bin/sh\nTSX_DISABLE_CACHE=1 exec "${process.execPath}" --import "${resolve('node_modules/tsx/dist/loader.mjs')}" "${resolve('src/cli/main.ts')}" "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}

describe('restore-drill fingerprint', () => {
  let engine: NativeEngine;
  let instance: NativeInstance;
  let pgDump: string;
  let env: Record<string, string>;
  const out = tempDir('fingerprints');
  chmodSync(out, 0o755); // pg_restore runs as the server's user.

  beforeAll(async () => {
    engine = await NativeEngine.create({ runId: 'fingerprinttest', record: () => undefined });
    instance = await engine.startInstance('source', tempDir('fingerprint-logs'));
    pgDump = join((await findPgBinaries()).binDir, 'pg_dump');
    const admin = await instance.connect('postgres');
    await admin.query('create database src');
    await admin.end();
    const client = await instance.connect('src');
    await client.query('create table ticks (id bigserial primary key, price numeric not null)');
    await client.query('create table quotes (symbol text primary key, bid numeric)');
    await client.query(`insert into quotes values ('AAPL', 1), ('MSFT', 2)`);
    await client.end();
    const { host, port, user, password } = instance.connection;
    env = { PGHOST: host, PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: 'src' };
  });
  afterAll(async () => {
    await instance?.destroy({ keepFiles: false });
    await engine?.dispose();
  });

  /** Inserts a tick every few milliseconds until stopped: the source is never still. */
  async function writing<T>(work: () => Promise<T>): Promise<T> {
    const client = await instance.connect('src');
    let stop = false;
    const loop = (async () => {
      while (!stop) await client.query('insert into ticks (price) values (random())');
    })();
    try {
      return await work();
    } finally {
      stop = true;
      await loop;
      await client.end();
    }
  }

  async function restoreInto(database: string, dump: string): Promise<void> {
    const admin = await instance.connect('postgres');
    await admin.query(`create database ${database}`);
    await admin.end();
    await instance.runPgTool('pg_restore', ['--exit-on-error', `--dbname=${database}`, dump]);
  }

  it('taken in the dump\'s snapshot while rows are written, equals the restore exactly', async () => {
    const dump = join(out, 'same.dump');
    const sidecar = `${dump}.fingerprint.json`;
    const result = await writing(() =>
      execa('node', [...CLI, 'fingerprint', '--out', sidecar, '--', pgDump, '--snapshot={snapshot}', '--format=custom', `--file=${dump}`], { env, reject: false }),
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/2 tables of src at .*, in the snapshot .*pg_dump used/);
    const fingerprint = parseFingerprint(readFileSync(sidecar, 'utf8'));
    if ('problem' in fingerprint) throw new Error(fingerprint.problem);
    expect(fingerprint.snapshot).toMatch(/^[0-9A-F]+-[0-9A-F]+-\d+$/);
    expect(Object.keys(fingerprint.state.tables).sort()).toEqual(['quotes', 'ticks']);
    await restoreInto('same', dump);
    const judged = await compareWithSource(() => instance.connect('same'), 'same', sidecar);
    expect(judged, judged.summary).toMatchObject({ name: 'source-fingerprint', verdict: 'pass' });
    expect(judged.summary).toMatch(/every table and row equals the source at .* read in the dump's own snapshot/);
  });

  it('taken apart from the dump while rows are written, fails the comparison naming the table that moved', async () => {
    const dump = join(out, 'apart.dump');
    const sidecar = `${dump}.fingerprint.json`;
    await writing(async () => {
      await execa('node', [...CLI, 'fingerprint', '--out', sidecar], { env });
      await new Promise((r) => setTimeout(r, 300));
      await execa(pgDump, ['--format=custom', `--file=${dump}`], { env });
    });
    await restoreInto('apart', dump);
    const judged = await compareWithSource(() => instance.connect('apart'), 'apart', sidecar);
    expect(judged.verdict).toBe('fail');
    expect(judged.summary).toMatch(/NOT in the dump's snapshot/);
    expect(judged.summary).toMatch(/ticks/);
    expect(judged.summary).not.toMatch(/quotes/);
  });

  it('writes nothing when the dump fails, and says why', async () => {
    const sidecar = join(out, 'failed.dump.fingerprint.json');
    const result = await execa('node', [...CLI, 'fingerprint', '--out', sidecar, '--', pgDump, '--snapshot={snapshot}', '--format=custom', '--file=/nonexistent/dir/x.dump'], { env, reject: false });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/pg_dump failed .*no fingerprint written/);
    expect(existsSync(sidecar)).toBe(false);
  });

  it('refuses a command that would not take the snapshot, an unreachable server and a missing --out, naming each', async () => {
    const noSnapshot = await execa('node', [...CLI, 'fingerprint', '--out', join(out, 'x.json'), '--', pgDump, '-Fc'], { env, reject: false });
    expect(noSnapshot).toMatchObject({ exitCode: 2 });
    expect(noSnapshot.stderr).toMatch(/must take the snapshot, e\.g\. pg_dump --snapshot=\{snapshot\}/);
    const unreachable = await execa('node', [...CLI, 'fingerprint', '--out', join(out, 'y.json'), '--dbname', 'postgresql://nobody@127.0.0.1:1/none'], { reject: false });
    expect(unreachable).toMatchObject({ exitCode: 2 });
    expect(unreachable.stderr).toMatch(/fingerprint: cannot connect \(--dbname\)/);
    const noOut = await execa('node', [...CLI, 'fingerprint'], { env, reject: false });
    expect(noOut).toMatchObject({ exitCode: 2 });
    expect(noOut.stderr).toMatch(/name the file to write with --out/);
    expect(existsSync(join(out, 'x.json')) || existsSync(join(out, 'y.json'))).toBe(false);
  });

  it('a sidecar that is not one makes the comparison unknown, never a pass', async () => {
    const bogus = join(out, 'bogus.json');
    writeFileSync(bogus, '{"format":"something-else"}');
    const judged = await compareWithSource(() => instance.connect('src'), 'src', bogus);
    expect(judged.verdict).toBe('unknown');
    expect(judged.summary).toMatch(/not a restore-drill-fingerprint\/4 file/);
  });

  it('a sidecar of an earlier format is unknown and says to take it again, naming what that format lacked', async () => {
    for (const [format, lacked] of [
      ['restore-drill-fingerprint/1', 'which hashed rows another way'],
      ['restore-drill-fingerprint/2', 'which read the public schema only'],
      ['restore-drill-fingerprint/3', 'which hashed each row as one record'],
    ]) {
      const earlier = join(out, 'earlier.json');
      writeFileSync(earlier, JSON.stringify({ format, takenAt: '2026-01-01T00:00:00Z', database: 'src', server: '15', state: { tables: {}, objects: { tables: [] } } }));
      const judged = await compareWithSource(() => instance.connect('src'), 'src', earlier);
      expect(judged.verdict).toBe('unknown');
      expect(judged.summary).toContain(`written by an earlier restore-drill (${format}), ${lacked}; take it again with \`restore-drill fingerprint\``);
    }
  });

  it('sees every change of a row, in columns a typed hash could not tell apart: json, a case-insensitive collation, a composite', async () => {
    const admin = await instance.connect('postgres');
    await admin.query('create database hashes');
    await admin.end();
    const client = await instance.connect('hashes');
    try {
      await client.query(`create collation if not exists nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`);
      await client.query('create type quote as (bid numeric, ask numeric)');
      // One table per kind of column, so each is read its own way.
      const tables = {
        docs: [`create table docs (id int primary key, doc json)`, `insert into docs values (1, '{"a": 1}')`, `update docs set doc = '{"a":  1}'`],
        names: [`create table names (id int primary key, ticker text collate nocase)`, `insert into names values (1, 'AAPL')`, `update names set ticker = 'aapl'`],
        pairs: [`create table pairs (id int primary key, q quote)`, `insert into pairs values (1, '(1.5,2)')`, `update pairs set q = '(1.50,2)'`],
      };
      for (const [table, [create, insert, change]] of Object.entries(tables)) {
        await client.query(create!);
        await client.query(insert!);
        const fingerprint = async () => {
          const state = (await captureState((db) => instance.connect(db), 'hashes', [table], 'test')).tables[table];
          if (!state || 'error' in state) throw new Error(`${table} was not read: ${state?.error}`);
          expect(state.rows, table).toBe(1);
          return state.fingerprint;
        };
        const before = await fingerprint();
        await client.query(change!);
        expect(await fingerprint(), change).not.toBe(before);
      }
    } finally {
      await client.end();
    }
  });

  it('hashing column by column still sees a value moved to another row or to a NULL, in a domain, an array, a char(3), a citext, a table too wide to chain; the same rows read alike in any time zone', async () => {
    const admin = await instance.connect('postgres');
    await admin.query('create database chains');
    await admin.end();
    const client = await instance.connect('chains');
    const wide = Array.from({ length: 120 }, (_, i) => `c${i}`);
    const fingerprint = async (table: string, timeZone = 'UTC') => {
      const connect = async (db: string) => {
        const c = await instance.connect(db);
        await c.query(`set timezone = '${timeZone}'`);
        return c;
      };
      const state = (await captureState(connect, 'chains', [table], 'test')).tables[table];
      if (!state || 'error' in state) throw new Error(`${table} was not read: ${state?.error}`);
      return state.fingerprint;
    };
    try {
      await client.query('create domain price as numeric(18,6) check (value > 0)');
      await client.query('create extension citext');
      const tables: [string, string, string, string][] = [
        // Each column holds the same values as before, but paired with other rows' values: a sum of column hashes would miss it.
        ['pairs', 'create table pairs (a int not null, b int not null)', 'insert into pairs values (1, 2), (2, 1)', 'update pairs set b = a'],
        ['gaps', 'create table gaps (a int, b int)', 'insert into gaps values (null, 1)', 'update gaps set a = 1, b = null'],
        ['blanks', 'create table blanks (a text)', `insert into blanks values ('')`, 'update blanks set a = null'],
        ['prices', 'create table prices (p price not null, tags text[])', `insert into prices values (1.5, '{a,b}')`, `update prices set tags = '{b,a}'`],
        ['moments', 'create table moments (at timestamptz not null, v varchar(8))', `insert into moments values ('2026-01-01 00:00:00+00', 'x')`, `update moments set at = at + interval '1 microsecond'`],
        // A cast to "character" would cut the value to its first letter.
        ['codes', 'create table codes (currency char(3) not null)', `insert into codes values ('USD')`, `update codes set currency = 'UXX'`],
        // An extension's type whose own hash ignores case: its text is hashed.
        ['tickers', 'create table tickers (symbol citext not null)', `insert into tickers values ('AAPL')`, `update tickers set symbol = 'aapl'`],
        ['money', 'create table money (m money, b bytea)', `insert into money values (1.5, '\\x00')`, `update money set b = '\\x01'`],
        ['wide', `create table wide (${wide.map((c) => `${c} int`).join(', ')})`, `insert into wide values (${wide.map((_, i) => i).join(', ')})`, 'update wide set c119 = 0'],
      ];
      for (const [table, create, insert, change] of tables) {
        await client.query(create);
        await client.query(insert);
        const before = await fingerprint(table);
        expect(await fingerprint(table, 'Asia/Tokyo'), `${table} in another time zone`).toBe(before);
        await client.query(change);
        expect(await fingerprint(table), change).not.toBe(before);
      }
    } finally {
      await client.end();
    }
  });
});

describe('a drill whose backup script takes the fingerprint', () => {
  const drills = tempDir('fingerprint-drills');
  const reports = tempDir('fingerprint-reports');
  const previous = process.env.RESTORE_DRILL;
  beforeAll(() => {
    process.env.RESTORE_DRILL = harnessWrapper();
  });
  afterAll(() => {
    if (previous === undefined) delete process.env.RESTORE_DRILL;
    else process.env.RESTORE_DRILL = previous;
  });

  const drill = (name: string, backupScript: string, restoreScript = resolve('fixtures/scripts/restore_database.sh')) =>
    writeDrill(
      drills,
      drillYaml({
        name,
        workload: { rate: 100, lead: '500ms', afterBackup: '500ms' },
        backup: { method: 'script', script: backupScript, timeout: '2m' },
        fault: { type: 'drop-database' },
        recovery: { procedure: 'script', script: restoreScript },
      }),
    );

  it('passes, the restore equal to the source at the dump in every table, the workload writing throughout', async () => {
    const { journal } = await runDrills([drill('fingerprint-honest', resolve('fixtures/scripts/backup_with_fingerprint.sh'))], reports);
    const result = journal.drills[0]!;
    expect(result.backup?.fingerprint).toMatch(/\.dump\.fingerprint\.json$/);
    expect(check(result, 'source-fingerprint'), check(result, 'source-fingerprint').summary).toMatchObject({ verdict: 'pass' });
    expect(check(result, 'source-fingerprint').summary).toMatch(/in the dump's own snapshot/);
    expect(result.verdict).toBe('pass');
  });

  it('fails when the fingerprint was taken apart from the dump, naming the tables the workload moved', async () => {
    const { journal } = await runDrills([drill('fingerprint-apart', resolve('test/sabotage/fingerprint_another_moment.sh'))], reports);
    const result = journal.drills[0]!;
    expect(check(result, 'source-fingerprint').verdict).toBe('fail');
    expect(check(result, 'source-fingerprint').summary).toMatch(/orders|trades/);
    expect(result.verdict).toBe('fail');
  });

  it('compares a table restored alone with the source at the dump, that table only, while the workload moved the others', async () => {
    const file = writeDrill(
      drills,
      drillYaml({
        name: 'fingerprint-one-table',
        workload: { rate: 100, lead: '500ms', afterBackup: '500ms' },
        backup: { method: 'script', script: resolve('fixtures/scripts/backup_with_fingerprint.sh'), timeout: '2m' },
        fault: { type: 'drop-table', table: 'positions' },
        recovery: { procedure: 'restore-table' },
      }),
    );
    const { journal } = await runDrills([file], reports);
    const result = journal.drills[0]!;
    expect(check(result, 'source-fingerprint'), check(result, 'source-fingerprint').summary).toMatchObject({ verdict: 'pass' });
    expect(check(result, 'source-fingerprint').summary).toMatch(/^the restored table positions, its rows and its own objects, equal the source at .* in the dump's own snapshot .*: 1 tables$/);
    expect(result.verdict).toBe('pass');
  });

  it('fails when the restore leaves a table out, even one the seeded checks do not read whole', async () => {
    const { journal } = await runDrills(
      [drill('fingerprint-liar', resolve('fixtures/scripts/backup_with_fingerprint.sh'), resolve('test/sabotage/restore_all_but_one_table.sh'))],
      reports,
    );
    const result = journal.drills[0]!;
    expect(check(result, 'source-fingerprint').verdict).toBe('fail');
    expect(check(result, 'source-fingerprint').summary).toMatch(/positions/);
  });
});
