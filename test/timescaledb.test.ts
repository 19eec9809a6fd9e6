/**
 * Real TimescaleDB (a build of ../shared/vendor's sources, see .ci/run): the
 * shipped drills at their shipped scale, restores done the documented way, a
 * timescaledb check that catches what the content checks cannot, hypertables
 * restored alone or by time range, a dump from another TimescaleDB
 * version, and a base backup made elsewhere. Where the builds are absent the tests skip and say why;
 * RESTORE_DRILL_REQUIRE_TIMESCALEDB=1 (CI) makes that a failure.
 */
import { cpSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { NativeEngine } from '../src/engines/native/engine.js';
import { findPgBinaries, hasTimescaleLibrary } from '../src/engines/shared/binaries.js';
import { withClient } from '../src/pg/client.js';
import type { Client } from 'pg';
import { check, drillYaml, recoveryOf, runDrills, tempDir, writeDrill } from './helpers.js';
import { switchAndWaitArchived } from './team-base-backup.js';

const BIN = process.env.RESTORE_DRILL_TIMESCALEDB_BIN;
const OLD_BIN = process.env.RESTORE_DRILL_TIMESCALEDB_OLD_BIN;
const UPGRADE_BIN = process.env.RESTORE_DRILL_TIMESCALEDB_UPGRADE_BIN;
const required = process.env.RESTORE_DRILL_REQUIRE_TIMESCALEDB === '1';
const SCRIPTS = resolve('fixtures/scripts');

/** A TimescaleDB database the harness did not seed: 20,000 ticks in a hypertable of daily chunks, the older ones compressed, and an hourly continuous aggregate. */
async function seedTicks(client: Client): Promise<void> {
  await client.query('create extension timescaledb');
  await client.query('create table ticks (at timestamptz not null, symbol text not null, price numeric(12,4) not null)');
  await client.query("select create_hypertable('ticks', 'at', chunk_time_interval => interval '1 day')");
  await client.query("insert into ticks select now() - g * interval '1 minute', 'S' || g % 20, 100 + g % 97 from generate_series(1, 20000) g");
  await client.query("alter table ticks set (timescaledb.compress, timescaledb.compress_segmentby = 'symbol')");
  await client.query("select compress_chunk(c) from show_chunks('ticks', older_than => interval '3 days') c");
  await client.query("create materialized view ticks_1h with (timescaledb.continuous) as select time_bucket('1 hour', at) as bucket, symbol, max(price) as high from ticks group by 1, 2");
}

/**
 * Production's base backup of the same database and its WAL archive, made with
 * the TimescaleDB build in `bin`: 100 more ticks written after the backup are
 * in the archive only.
 */
async function teamBaseBackup(bin: string, into: string): Promise<void> {
  const engine = await NativeEngine.create({ runId: 'tsdbphysical', binDir: bin, record: () => undefined });
  try {
    const production = await engine.startInstance('production', tempDir('tsdb-physical-logs'), { walArchive: { timeoutMs: 1000 } });
    try {
      await withClient(() => production.connect('postgres'), (admin) => admin.query('create database ticks'));
      await withClient(() => production.connect('ticks'), seedTicks);
      const base = join(production.backupDir, 'base');
      await production.runPgTool('pg_basebackup', ['--pgdata', base, '--format=tar', '--gzip', '--wal-method=stream', '--checkpoint=fast', '--manifest-checksums=SHA256']);
      await withClient(() => production.connect('ticks'), (client) => client.query("insert into ticks select now() - g * interval '1 second', 'LATE', 1 from generate_series(1, 100) g"));
      await withClient(() => production.connect('postgres'), switchAndWaitArchived);
      cpSync(base, join(into, 'base'), { recursive: true });
      cpSync(production.archiveDir, join(into, 'wal'), { recursive: true });
    } finally {
      await production.destroy({ keepFiles: false });
    }
  } finally {
    await engine.dispose();
  }
}

/**
 * Production's nightly dump of a TimescaleDB database the harness did not
 * seed (a compressed hypertable, a continuous aggregate), made with the
 * TimescaleDB build in `bin`, its fingerprint beside it.
 */
async function teamDump(bin: string, dump: string): Promise<void> {
  const engine = await NativeEngine.create({ runId: 'tsdbexisting', binDir: bin, record: () => undefined });
  try {
    const production = await engine.startInstance('production', tempDir('tsdb-existing-logs'));
    try {
      await withClient(() => production.connect('postgres'), (admin) => admin.query('create database ticks'));
      await withClient(
        () => production.connect('ticks'),
        seedTicks,
      );
      const { host, port, user, password } = production.connection;
      const env = { PGHOST: host, PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: 'ticks' };
      const plain = dump.endsWith('.sql.gz');
      const file = plain ? dump.slice(0, -'.gz'.length) : dump;
      const made = await execa('node', ['--import', 'tsx', 'src/cli/main.ts', 'fingerprint', '--out', `${dump}.fingerprint.json`, '--', join(bin, 'pg_dump'), '--snapshot={snapshot}', `--format=${plain ? 'plain' : 'custom'}`, `--file=${file}`], { env, reject: false });
      expect(made.exitCode, made.stderr).toBe(0);
      if (plain) await execa('gzip', [file]);
    } finally {
      await production.destroy({ keepFiles: false });
    }
  } finally {
    await engine.dispose();
  }
}

/** A drill of the newest ticks_*.dump (or the pattern given) in `backups`, restored into an empty instance. */
const existingDrill = (dir: string, name: string, backups: string, recovery: Record<string, unknown> = { procedure: 'restore-database', owners: false }, pattern = 'ticks_*.dump') =>
  writeDrill(dir, {
    name,
    database: 'ticks',
    backup: { method: 'existing', path: join(backups, pattern) },
    fault: { type: 'production-lost' },
    recovery,
    queries: [{ name: 'hourly-buckets', sql: 'select count(*) from ticks_1h', expect: { atLeast: 300 } }],
    targets: { rto: '15m', rpo: '24h' },
  });

const present = BIN !== undefined && existsSync(BIN) && (await hasTimescaleLibrary(BIN));
const why = BIN ? `no TimescaleDB library beside ${BIN}` : 'RESTORE_DRILL_TIMESCALEDB_BIN is not set (build one with ../shared/tools/build-timescaledb.sh)';
if (required && !present) throw new Error(`RESTORE_DRILL_REQUIRE_TIMESCALEDB=1 but ${why}`);

describe.skipIf(!present)(`TimescaleDB${present ? '' : ` (skipped: ${why})`}`, () => {
  const drills = tempDir('tsdb-drills');
  const reports = tempDir('tsdb-reports');
  const onTimescale = { binDir: BIN };

  it('every shipped drill passes at its shipped scale, with the timescaledb check', async () => {
    const { journal } = await runDrills(['drills'], reports, { ...onTimescale, jobs: 2 });
    for (const drill of journal.drills) {
      const failing = drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`);
      expect({ drill: drill.name, verdict: drill.verdict, error: drill.error, failing }).toEqual({ drill: drill.name, verdict: 'pass', error: undefined, failing: [] });
      expect(drill.dataset?.timescaledb).toMatch(/^\d+\.\d+\.\d+$/);
      expect(check(drill, 'timescaledb').verdict).toBe('pass');
      expect(drill.logErrors ?? []).toEqual([]);
    }
    const byName = Object.fromEntries(journal.drills.map((d) => [d.name, d]));
    expect(byName['database-loss']!.dataset?.layout).toMatch(/candles a hypertable \(\d+ chunks compressed\), continuous aggregates candles_1h and candles_1d/);
    expect(JSON.stringify(recoveryOf(byName['database-loss']!)?.timescaledb)).toMatch(/timescaledb_post_restore/);
    // The corrupt page is in a chunk that holds rows, not in the hypertable's empty root table.
    expect((byName['corrupt-page']!.fault as { relation: string }).relation).toMatch(/^_timescaledb_internal\./);
    expect(String(recoveryOf(byName['table-drop']!)?.summary)).toMatch(/candles is a hypertable: the dump restored into market_scratch, then candles rebuilt/);
  }, 1_200_000);

  it('every drill in drills/negative/ still fails as designed', async () => {
    const { journal } = await runDrills(['drills/negative'], reports, { ...onTimescale, jobs: 2 });
    for (const drill of journal.drills) expect({ drill: drill.name, verdict: drill.verdict }).toEqual({ drill: drill.name, verdict: 'fail' });
  }, 600_000);

  it.each([
    // With restore mode left on, compressed chunks read as empty: the content checks see that much too.
    ['restore_forgets_post_restore.sh', /timescaledb\.restoring is on: timescaledb_post_restore\(\) never ran.*a new row of candles (lands in candles, not in a chunk|could not be probed: it reads as empty)/, false],
    ['restore_drops_aggregate.sh', /continuous aggregate candles_1d is missing/, true],
  ])('a restore script %s fails the timescaledb check, naming what it left wrong', async (script, why, contentPasses) => {
    const file = writeDrill(
      drills,
      drillYaml({
        name: `tsdb-${script.replace(/[\W_]+/g, '-')}`.slice(0, 60),
        dataset: { scale: 'small', seed: 7 },
        backup: { method: 'script', script: join(SCRIPTS, 'backup_database.sh') },
        fault: { type: 'drop-database' },
        recovery: { procedure: 'script', script: join(SCRIPTS, 'broken', script) },
      }),
    );
    const { journal } = await runDrills([file], reports, onTimescale);
    const drill = journal.drills[0]!;
    if (contentPasses) {
      // The script did all it meant to (its DROP raced no job): the finding is the aggregate, not a failed script.
      expect(recoveryOf(drill)).not.toHaveProperty('error');
      for (const name of ['schema', 'row-counts', 'fingerprint', 'freshness']) expect(check(drill, name).verdict).toBe('pass');
    }
    expect(check(drill, 'timescaledb')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(why) });
    expect(drill.verdict).toBe('fail');
  });

  it('restores a plain table of a TimescaleDB database with pg_restore, and a time range of a hypertable from a scratch restore', async () => {
    const plain = writeDrill(drills, drillYaml({ name: 'tsdb-plain-table', dataset: { scale: 'small', seed: 7 }, fault: { type: 'drop-table', table: 'trades' } }));
    // Candles are in 6-hour chunks, compressed once 12 hours old. Whatever the time of day, the range holds one
    // whole compressed chunk (dropped, then refilled) and half of the one before (refilled in part); both must
    // end compressed again, as the timescaledb check counts.
    const hour = 3_600_000;
    const chunkEnd = Math.floor(Date.now() / (6 * hour)) * 6 * hour - 18 * hour;
    const to = new Date(chunkEnd).toISOString();
    const from = new Date(chunkEnd - 9 * hour).toISOString();
    const range = writeDrill(
      drills,
      drillYaml({
        name: 'tsdb-candles-range',
        dataset: { scale: 'small', seed: 7 },
        fault: { type: 'bad-write', sql: `update candles set close = close * 2 where ts >= '${from}' and ts < '${to}'` },
        recovery: { procedure: 'restore-table', table: 'candles', range: { from, to } },
      }),
    );
    const { journal } = await runDrills([plain, range], reports, onTimescale);
    const [table, ranged] = journal.drills;
    expect(table!.verdict).toBe('pass');
    expect(recoveryOf(table!)?.entries).toEqual(expect.arrayContaining([expect.stringMatching(/^TABLE DATA public trades /)]));
    const failing = ranged!.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`);
    expect({ verdict: ranged!.verdict, failing }).toEqual({ verdict: 'pass', failing: [] });
    // 9 hours of one-minute candles for 50 symbols.
    expect(recoveryOf(ranged!)?.hypertable).toMatchObject({ range: { from, to }, rows: 9 * 60 * 50, compressedChunks: 2 });
  });

  it("drills a TimescaleDB dump made elsewhere (backup.method existing): restored the documented way, every chunk's rows back and the fingerprint equal; left in restore mode, it fails", async () => {
    const backups = tempDir('tsdb-team-backups');
    await teamDump(BIN!, join(backups, 'ticks_20261121.dump'));
    const file = existingDrill(drills, 'tsdb-existing', backups);
    const { journal } = await runDrills([file], reports, onTimescale);
    const drill = journal.drills[0]!;
    const failing = drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`);
    expect({ verdict: drill.verdict, failing }).toEqual({ verdict: 'pass', failing: [] });
    expect(JSON.stringify(recoveryOf(drill))).toMatch(/timescaledb_post_restore/);
    // The version that wrote the dump, read from its own catalog, is the one the restore created.
    expect(drill.backup?.timescaledb).toMatch(/^2\.28\.3$/);
    expect(JSON.stringify(recoveryOf(drill))).toMatch(/create extension timescaledb version 2\.28\.3/);
    // Every chunk's rows, compressed ones included, as the dump holds them; every row equal to the source's.
    expect(check(drill, 'dump-row-counts').summary).toMatch(/^every table holds the rows its dump holds: \d+ tables, \d+ rows; TimescaleDB's own catalog \(\d+ tables\) not compared, as the extension rewrites it$/);
    expect(check(drill, 'source-fingerprint').summary).toMatch(/every table and row equals the source/);
    // TimescaleDB's state as the dump's own catalog records it: no snapshot of the source needed.
    expect(check(drill, 'timescaledb').summary).toMatch(/^TimescaleDB 2\.28\.3: the dump's 1 hypertables with their chunks and compression, 1 continuous aggregates refreshable, \d+ jobs scheduled; new rows land in chunks$/);

    // A restore that leaves the database in restore mode: every row is on disk, so the dump's counts match, but the hypertable reads empty.
    const forgetful = existingDrill(drills, 'tsdb-existing-forgetful', backups, { procedure: 'script', script: join(SCRIPTS, 'broken', 'restore_forgets_post_restore.sh') });
    const lied = (await runDrills([forgetful], reports, onTimescale)).journal.drills[0]!;
    expect(lied.verdict).toBe('fail');
    expect(check(lied, 'source-fingerprint')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(/ticks/) });
    // Caught without the fingerprint too, by what the dump's catalog says must come back.
    expect(check(lied, 'timescaledb')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(/timescaledb\.restoring is on: timescaledb_post_restore\(\) never ran/) });
  }, 600_000);

  it('restores one hypertable of a dump made elsewhere (restore-table): the whole dump the documented way, the hypertable judged by its own chunks\' rows and fingerprint', async () => {
    const backups = tempDir('tsdb-team-one-table');
    await teamDump(BIN!, join(backups, 'ticks_20261121.dump'));
    const file = existingDrill(drills, 'tsdb-existing-one-table', backups, { procedure: 'restore-table', table: 'ticks', owners: false });
    const drill = (await runDrills([file], reports, onTimescale)).journal.drills[0]!;
    const failing = drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`);
    expect({ verdict: drill.verdict, failing }).toEqual({ verdict: 'pass', failing: [] });
    expect(String(recoveryOf(drill)?.summary)).toMatch(/^ticks is a hypertable, which TimescaleDB restores only with its database: the whole dump into a new database ticks, TimescaleDB 2\.28\.3 .*timescaledb_post_restore.*; ticks judged alone$/);
    // Its rows are in its chunks, compressed ones too: counted there, the hypertable's own (empty) table among them.
    expect(check(drill, 'dump-row-counts').summary).toMatch(/^every table holds the rows its dump holds: ([3-9]|\d\d+) tables, \d+ rows/);
    expect(check(drill, 'source-fingerprint').summary).toMatch(/^the restored table ticks, its rows and its own objects, equal the source/);
    expect(check(drill, 'timescaledb').verdict).toBe('pass');
  }, 600_000);

  const versions = OLD_BIN !== undefined && UPGRADE_BIN !== undefined && existsSync(OLD_BIN) && existsSync(UPGRADE_BIN);
  if (required && !versions) throw new Error('RESTORE_DRILL_REQUIRE_TIMESCALEDB=1 but RESTORE_DRILL_TIMESCALEDB_OLD_BIN / _UPGRADE_BIN are not set to builds');

  it.runIf(versions)('restores a 2.17.2 dump into 2.28.3 the documented way, and refuses a target without 2.17.2 naming both versions', async () => {
    const documented = await runDrills(['drills/timescaledb/version-mismatch.yaml'], reports);
    const drill = documented.journal.drills[0]!;
    expect(drill.verdict).toBe('pass');
    expect(drill.backup?.timescaledb).toBe('2.17.2');
    expect(String(recoveryOf(drill)?.summary)).toMatch(/TimescaleDB 2\.17\.2 updated to 2\.28\.3/);
    expect(check(drill, 'timescaledb').summary).toMatch(/^TimescaleDB 2\.28\.3/);

    const previous = process.env.RESTORE_DRILL_TIMESCALEDB_UPGRADE_BIN;
    process.env.RESTORE_DRILL_TIMESCALEDB_UPGRADE_BIN = BIN;
    try {
      const refused = (await runDrills(['drills/timescaledb/version-mismatch.yaml'], reports)).journal.drills[0]!;
      expect(refused.verdict).toBe('fail');
      expect(check(refused, 'recovery').summary).toMatch(/dump was taken with TimescaleDB 2\.17\.2, and the restore target offers 2\.28\.3/);
    } finally {
      process.env.RESTORE_DRILL_TIMESCALEDB_UPGRADE_BIN = previous;
    }
  });

  it.runIf(versions)("reads the version from a 2.17.2 dump made elsewhere: refused by a 2.28.3-only target naming both, restored at 2.17.2 then updated where both are installed", async () => {
    const backups = tempDir('tsdb-old-team-backups');
    await teamDump(OLD_BIN!, join(backups, 'ticks_20261121.dump'));
    const file = existingDrill(drills, 'tsdb-existing-old', backups);
    const refused = (await runDrills([file], reports, onTimescale)).journal.drills[0]!;
    expect(refused.backup?.timescaledb).toBe('2.17.2');
    expect(refused.verdict).toBe('fail');
    expect(check(refused, 'recovery').summary).toMatch(/dump was taken with TimescaleDB 2\.17\.2, and the restore target offers 2\.28\.3/);
    const updated = (await runDrills([file], reports, { binDir: UPGRADE_BIN })).journal.drills[0]!;
    const failing = updated.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`);
    expect({ verdict: updated.verdict, failing }).toEqual({ verdict: 'pass', failing: [] });
    expect(String(recoveryOf(updated)?.summary)).toMatch(/TimescaleDB 2\.17\.2 updated to 2\.28\.3/);
  }, 600_000);

  it.runIf(versions)('reads the version from a plain .sql.gz dump made elsewhere as well: refused by a 2.28.3-only target naming both, restored at 2.17.2 then updated', async () => {
    const backups = tempDir('tsdb-old-plain-backups');
    await teamDump(OLD_BIN!, join(backups, 'ticks_20261121.sql.gz'));
    const file = existingDrill(drills, 'tsdb-existing-old-plain', backups, { procedure: 'restore-database' }, 'ticks_*.sql.gz');
    const refused = (await runDrills([file], reports, onTimescale)).journal.drills[0]!;
    expect(refused.backup).toMatchObject({ format: 'plain.gz', timescaledb: '2.17.2' });
    expect(refused.verdict).toBe('fail');
    expect(check(refused, 'recovery').summary).toMatch(/dump was taken with TimescaleDB 2\.17\.2, and the restore target offers 2\.28\.3/);
    const updated = (await runDrills([file], reports, { binDir: UPGRADE_BIN })).journal.drills[0]!;
    const failing = updated.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`);
    expect({ verdict: updated.verdict, failing }).toEqual({ verdict: 'pass', failing: [] });
    expect(String(recoveryOf(updated)?.summary)).toMatch(/TimescaleDB 2\.17\.2 updated to 2\.28\.3/);
  }, 600_000);
  it.runIf(versions)("replays a 2.17.2 base backup made elsewhere where 2.17.2 is installed, reading each database's version from the restored cluster; a 2.28.3-only target fails naming both, a target without TimescaleDB says why it could not start", async () => {
    const team = tempDir('tsdb-team-physical');
    await teamBaseBackup(OLD_BIN!, team);
    const drillOf = (name: string) =>
      writeDrill(drills, {
        name,
        database: 'ticks',
        backup: { method: 'existing-base-backup', path: join(team, 'base'), wal: join(team, 'wal') },
        fault: { type: 'production-lost' },
        recovery: { procedure: 'point-in-time' },
        queries: [{ name: 'late-ticks', sql: "select count(*) from ticks where symbol = 'LATE'", expect: { equals: 100 } }],
        targets: { rto: '15m', rpo: '24h' },
      });
    const same = (await runDrills([drillOf('tsdb-physical')], reports, { binDir: UPGRADE_BIN })).journal.drills[0]!;
    const failing = same.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`);
    expect({ verdict: same.verdict, failing }).toEqual({ verdict: 'pass', failing: [] });
    // Every tick read through TimescaleDB, the compressed chunks decompressed, the 100 from the archive among them.
    expect(check(same, 'timescaledb').summary).toMatch(
      /^every database with TimescaleDB loads it and reads whole: ticks \(TimescaleDB 2\.17\.2: 1 hypertables, \d+ chunks, [1-9]\d* compressed, 20100 rows read through TimescaleDB; 1 continuous aggregates refreshable, \d+ jobs scheduled\); new rows land in chunks$/,
    );

    const other = (await runDrills([drillOf('tsdb-physical-other-version')], reports, onTimescale)).journal.drills[0]!;
    expect(check(other, 'timescaledb')).toMatchObject({
      verdict: 'fail',
      summary: expect.stringMatching(/^ticks uses TimescaleDB 2\.17\.2 \(its catalog asks for the library timescaledb-2\.17\.2\), which the restore target's binaries do not have \(they offer 2\.28\.3\)/),
    });
    expect(other.verdict).toBe('fail');
    // No TimescaleDB at all: the backup's own settings preload it, and the error's first line says the server could not.
    const none = (await runDrills([drillOf('tsdb-physical-no-timescale')], reports, { binDir: (await findPgBinaries()).binDir })).journal.drills[0]!;
    expect(check(none, 'recovery')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(/the server said: FATAL: +could not access file "timescaledb": No such file or directory\)/) });
    // What is left is the empty instance meant for the restore: its pages vouch for nothing.
    expect(check(none, 'page-checksums')).toMatchObject({ verdict: 'unknown', summary: expect.stringMatching(/the recovery failed/) });
    expect(none.verdict).toBe('fail');
  }, 600_000);
});
