/**
 * An extension's configuration table in a dump made elsewhere, as PostGIS's
 * spatial_ref_sys is: pg_dump keeps only the rows its condition selects (the
 * team's own), and CREATE EXTENSION puts back the rest, so a count of the
 * whole table never equals the dump's. The restore is counted as pg_dump
 * selects, and a row the restore added still fails it, and the source's
 * fingerprint, which reads the table whole.
 *
 * No extension here has such a table (TimescaleDB's catalog is checked
 * apart), so the test installs one into a private copy of PostgreSQL, whose
 * extension folder is its own; the machine's PostgreSQL is not touched.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeEngine } from '../src/engines/native/engine.js';
import type { NativeInstance } from '../src/engines/native/instance.js';
import { findPgBinaries } from '../src/engines/shared/binaries.js';
import { check, runDrills, tempDir, writeDrill } from './helpers.js';

const CONTROL = `comment = 'restore-drill test: reference data the extension ships, plus rows a team adds'
default_version = '1.0'
relocatable = false
`;
const SCRIPT = `create table rd_reference (code int primary key, name text not null, builtin boolean not null default false);
insert into rd_reference select g, 'builtin ' || g, true from generate_series(1, 100) g;
select pg_catalog.pg_extension_config_dump('rd_reference', 'where not builtin');
`;

/**
 * A copy of the machine's PostgreSQL under `root` with the test extension
 * in its own extension folder: the server finds its share folder relative
 * to its binaries, so the copy keeps their relative places (the library
 * folder is linked, not copied).
 */
async function postgresWithExtension(root: string, binDir: string): Promise<string> {
  const config = async (flag: string) => (await execa(join(binDir, 'pg_config'), [flag])).stdout.trim();
  const [bin, share, lib] = [await config('--bindir'), await config('--sharedir'), await config('--pkglibdir')];
  cpSync(bin, join(root, bin), { recursive: true });
  cpSync(share, join(root, share), { recursive: true });
  mkdirSync(join(root, lib, '..'), { recursive: true });
  symlinkSync(lib, join(root, lib));
  writeFileSync(join(root, share, 'extension', 'rd_reference.control'), CONTROL);
  writeFileSync(join(root, share, 'extension', 'rd_reference--1.0.sql'), SCRIPT);
  return join(root, bin);
}

describe("an extension's configuration table in a dump made elsewhere", () => {
  let engine: NativeEngine;
  let production: NativeInstance;
  let binDir: string;
  const backups = tempDir('extension-backups');
  const drills = tempDir('extension-drills');
  const reports = tempDir('extension-reports');
  const dump = join(backups, 'geo.dump');

  const drillOf = (name: string, recovery: Record<string, unknown>) =>
    writeDrill(drills, {
      name,
      database: 'geo',
      engine: { kind: 'native', binDir },
      backup: { method: 'existing', path: dump },
      fault: { type: 'production-lost' },
      recovery,
      targets: { rto: '15m', rpo: '24h' },
    });

  beforeAll(async () => {
    const root = tempDir('private-postgres');
    chmodSync(root, 0o755); // The server runs as the postgres user.
    chmodSync(backups, 0o755);
    binDir = await postgresWithExtension(root, (await findPgBinaries()).binDir);
    engine = await NativeEngine.create({ runId: 'extensiontest', record: () => undefined, binDir });
    production = await engine.startInstance('production', tempDir('extension-logs'));
    const admin = await production.connect('postgres');
    await admin.query('create database geo');
    await admin.end();
    const client = await production.connect('geo');
    await client.query('create extension rd_reference');
    // The team's own reference rows, beside the 100 the extension ships: only these are dumped.
    await client.query("insert into rd_reference values (1001, 'desk A', false), (1002, 'desk B', false), (1003, 'desk C', false)");
    await client.query('create table sites (id int primary key, code int not null references rd_reference)');
    await client.query('insert into sites values (1, 1001), (2, 7)');
    await client.end();
    const { host, port, user, password } = production.connection;
    const env = { PGHOST: host, PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: 'geo' };
    const made = await execa('node', ['--import', 'tsx', 'src/cli/main.ts', 'fingerprint', '--out', `${dump}.fingerprint.json`, '--', join(binDir, 'pg_dump'), '--snapshot={snapshot}', '--format=custom', `--file=${dump}`], { env, reject: false });
    expect(made.exitCode, made.stderr).toBe(0);
    // The drills below compare with this sidecar: a CI run once found it absent (unexplained), so its presence is asserted here.
    expect(existsSync(`${dump}.fingerprint.json`), `${made.stderr}\n${readdirSync(backups).join(', ')}`).toBe(true);
    await production.destroy({ keepFiles: false });
  });
  afterAll(async () => {
    await production?.destroy({ keepFiles: false });
    await engine?.dispose();
  });

  it('counts the table as pg_dump selects its rows, and passes', async () => {
    const { journal } = await runDrills([drillOf('extension-honest', { procedure: 'restore-database', owners: false })], reports);
    const drill = journal.drills[0]!;
    expect(check(drill, 'dump-row-counts'), check(drill, 'dump-row-counts').summary).toMatchObject({ verdict: 'pass' });
    expect(check(drill, 'dump-row-counts').summary).toBe(
      "every table holds the rows its dump holds: 2 tables, 5 rows; public.rd_reference (rd_reference's configuration) counted as pg_dump selects its rows (where not builtin)",
    );
    // The fingerprint reads the configuration table too: it holds the team's rows.
    expect(drill.backup?.fingerprint, `the backup taken: ${JSON.stringify(drill.backup)}; the folder: ${readdirSync(backups).join(', ')}`).toBeDefined();
    expect(check(drill, 'source-fingerprint')).toMatchObject({ verdict: 'pass', summary: expect.stringMatching(/: 2 tables$/) });
    expect(drill.verdict).toBe('pass');
  });

  it('fails when the restore added a row of the team’s to it', async () => {
    const { journal } = await runDrills([drillOf('extension-extra-row', { procedure: 'script', script: resolve('test/sabotage/restore_then_add_a_reference_row.sh') })], reports);
    const drill = journal.drills[0]!;
    expect(check(drill, 'dump-row-counts')).toMatchObject({ verdict: 'fail' });
    expect(check(drill, 'dump-row-counts').summary).toBe('differs from its dump: public.rd_reference 4 rows, the dump 3');
    expect(check(drill, 'source-fingerprint')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(/rd_reference/) });
    expect(drill.verdict).toBe('fail');
  });
});
