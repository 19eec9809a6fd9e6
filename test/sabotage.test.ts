/**
 * No false green: tools and scripts that lie about a restore. Each way of
 * faking one must end FAIL, naming the check that caught it; the honest
 * restore of the same backup still passes. The liars are in test/sabotage/:
 * team restore scripts that cheat, and pg_restore / pg_dump wrappers put in
 * front of the real binaries.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli/commands.js';
import { SCALES } from '../src/dataset/scale.js';
import { removeLeftovers } from '../src/engines/native/leftovers.js';
import { findPgBinaries } from '../src/engines/shared/binaries.js';
import type { DrillJournal } from '../src/model/journal.js';
import { check, drillYaml, runDrills, tempDir, writeDrill } from './helpers.js';

const SABOTAGE = resolve('test/sabotage');
const SCRIPTS = resolve('fixtures/scripts');
const drills = tempDir('sabotage-drills');
const reports = tempDir('sabotage-reports');
// The servers' user runs the lying scripts and wrappers: it must reach them.
chmodSync(drills, 0o755);

/** A whole-database drill whose restore is the given script. */
function scripted(name: string, restore: string, args: string[] = []) {
  return writeDrill(
    drills,
    drillYaml({ name, fault: { type: 'drop-database' }, recovery: { procedure: 'script', script: join(SABOTAGE, restore), args }, targets: { rto: '15m', rpo: '24h' } }),
  );
}

/** A bin folder that is the real one but for `tool`, which is the liar (the real one beside it as <tool>.real). */
async function binWithLiar(tool: 'pg_restore' | 'pg_dump', liar: string): Promise<string> {
  const { binDir } = await findPgBinaries();
  const dir = join(tempDir(`bin-${tool}`), 'bin');
  mkdirSync(dir);
  chmodSync(join(dir, '..'), 0o755);
  for (const name of readdirSync(binDir)) if (name !== tool) symlinkSync(join(binDir, name), join(dir, name));
  symlinkSync(join(binDir, tool), join(dir, `${tool}.real`));
  symlinkSync(join(SABOTAGE, liar), join(dir, tool));
  return dir;
}

/** Runs an honest drill and keeps its files: its dump is "an older backup" for the stale-data liars. */
async function staleDump(): Promise<string> {
  const file = writeDrill(drills, drillYaml({ name: 'stale-source', fault: { type: 'drop-database' }, recovery: { procedure: 'restore-database' } }));
  const { journal } = await runDrills([file], reports, { keep: true });
  expect(journal.drills[0]!.verdict).toBe('pass');
  return journal.drills[0]!.backup!.path;
}

function failedBy(drill: DrillJournal, name: string, why: RegExp) {
  expect(drill.verdict).toBe('fail');
  expect(check(drill, name)).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(why) });
}

afterEach(() => {
  delete process.env.SABOTAGE_STALE_DUMP;
});

describe('a restore that did not really restore never passes', () => {
  it('the honest restore of the same kind of backup passes', async () => {
    const file = writeDrill(drills, drillYaml({ name: 'honest', fault: { type: 'drop-database' }, recovery: { procedure: 'script', script: join(SCRIPTS, 'restore_database.sh') } }));
    expect((await runDrills([file], reports)).journal.drills[0]!.verdict).toBe('pass');
  });

  it('a script that restores nothing: schema, every table and the ledger say so', async () => {
    const drill = (await runDrills([scripted('liar-nothing', 'restore_nothing.sh')], reports)).journal.drills[0]!;
    failedBy(drill, 'schema', /database "market" cannot be read/);
    failedBy(drill, 'rpo', /all \d+ committed ledger rows lost/);
  });

  it('a script that restores the schema only: row counts and fingerprints fail', async () => {
    const drill = (await runDrills([scripted('liar-schema-only', 'restore_schema_only.sh')], reports)).journal.drills[0]!;
    failedBy(drill, 'row-counts', /differs from the backup in symbols, candles, orders, trades, positions/);
    failedBy(drill, 'rpo', /all \d+ committed ledger rows lost/);
  });

  it('a script that restores all but one table: that table is named', async () => {
    const drill = (await runDrills([scripted('liar-all-but-one', 'restore_all_but_one_table.sh')], reports)).journal.drills[0]!;
    failedBy(drill, 'row-counts', /differs from the backup in positions$/);
    expect(check(drill, 'fingerprint').summary).toMatch(/in positions$/);
  });

  it('a script that redefines objects under their own names: each redefinition is named', async () => {
    const drill = (await runDrills([scripted('liar-redefines', 'restore_then_redefine.sh')], reports)).journal.drills[0]!;
    expect(check(drill, 'row-counts').verdict).toBe('pass');
    const schema = check(drill, 'schema');
    expect(schema.verdict).toBe('fail');
    for (const redefined of [
      'constraint positions.positions_pkey',
      'index trades.trades_order_idx',
      'constraint orders.orders_quantity_check',
      'constraint trades.trades_order_id_fkey',
      'constraint candles.candles_symbol_id_fkey',
    ]) {
      expect(schema.summary).toContain(redefined);
    }
    expect(schema.summary).toMatch(/trades_order_id_fkey: FOREIGN KEY \(order_id\) REFERENCES orders\(order_id\) → .*\(not validated\)/);
  });

  it('a script that restores an older dump (another run of the same drill) instead of BACKUP_FILE: rpo names the other run', async () => {
    const stale = await staleDump();
    const drill = (await runDrills([scripted('liar-fixed-path', 'restore_fixed_path.sh', [stale])], reports)).journal.drills[0]!;
    // Same seed, same day: the seeded tables are identical, so only the ledger can tell.
    expect(check(drill, 'fingerprint').verdict).toBe('pass');
    failedBy(drill, 'rpo', /all \d+ committed ledger rows lost.*ledger rows of another run or drill came back \(run \S+ drill stale-source/);
    expect(drill.rpo).toMatchObject({ total: true, recoveredRows: 0 });
  });

  it('a backup script that damages its dump before checksumming it: the format’s own read catches it', async () => {
    const file = writeDrill(
      drills,
      drillYaml({
        name: 'liar-checksum-after-damage',
        backup: { method: 'script', script: join(SABOTAGE, 'backup_flips_then_checksums.sh') },
        fault: { type: 'drop-database' },
        recovery: { procedure: 'restore-database' },
      }),
    );
    const drill = (await runDrills([file], reports)).journal.drills[0]!;
    failedBy(drill, 'backup-integrity', /caught by pg_restore/);
  });

  it('a pg_restore that exits 0 without restoring: the empty database fails every table', async () => {
    const binDir = await binWithLiar('pg_restore', 'pg_restore_lies.sh');
    const file = writeDrill(drills, drillYaml({ name: 'liar-pg-restore', fault: { type: 'drop-database' }, recovery: { procedure: 'restore-database' } }));
    const drill = (await runDrills([file], reports, { binDir })).journal.drills[0]!;
    failedBy(drill, 'schema', /missingTables: candles, drill_ledger, orders, positions, symbols, trades/);
    failedBy(drill, 'rpo', /all \d+ committed ledger rows lost/);
  });

  it('a pg_restore that restores an older dump than it was given, and a pg_dump that writes an old dump: rpo names the other run', async () => {
    process.env.SABOTAGE_STALE_DUMP = await staleDump();
    const restoreLies = await binWithLiar('pg_restore', 'pg_restore_lies.sh');
    const dumpLies = await binWithLiar('pg_dump', 'pg_dump_lies.sh');
    const restored = writeDrill(drills, drillYaml({ name: 'liar-pg-restore-stale', fault: { type: 'drop-database' }, recovery: { procedure: 'restore-database' } }));
    const dumped = writeDrill(drills, drillYaml({ name: 'liar-pg-dump-stale', fault: { type: 'drop-database' }, recovery: { procedure: 'restore-database' } }));
    for (const [file, binDir] of [
      [restored, restoreLies],
      [dumped, dumpLies],
    ] as const) {
      const drill = (await runDrills([file], reports, { binDir })).journal.drills[0]!;
      failedBy(drill, 'rpo', /ledger rows of another run or drill came back \(run \S+ drill stale-source/);
    }
  });
});

describe('evidence is never lost', () => {
  it('a kept folder survives later runs whose cleanup removes a dead harness’s leftovers; clean --kept removes it, naming it', async () => {
    const file = writeDrill(drills, drillYaml({ name: 'kept-evidence', recovery: { procedure: 'none' } }));
    const drill = (await runDrills([file], reports)).journal.drills[0]!;
    expect(drill.verdict).toBe('fail'); // A failed drill keeps its files.
    const kept = drill.keptFiles![0]!;
    // As if the harness that kept it had died since: its marker names a pid that is gone.
    const marker = JSON.parse(readFileSync(join(kept, 'harness.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(kept, 'harness.json'), JSON.stringify({ ...marker, pid: spawnSync('true').pid }));
    for (let run = 0; run < 2; run++) {
      await runDrills([writeDrill(drills, drillYaml({ name: `later-${run}` }))], reports);
      await removeLeftovers();
      expect(existsSync(join(kept, 'data', 'PG_VERSION'))).toBe(true);
    }
    const out: string[] = [];
    // clean also empties the seed cache: this one, not the one the other test files' drills are copying from.
    const sharedCache = process.env.RESTORE_DRILL_CACHE;
    process.env.RESTORE_DRILL_CACHE = tempDir('clean-cache');
    try {
      expect(await main(['clean', '--kept'], { out: (l) => out.push(l), err: () => {} })).toBe(0);
    } finally {
      process.env.RESTORE_DRILL_CACHE = sharedCache;
    }
    expect(out.join('\n')).toContain(`removed ${kept}`);
    expect(existsSync(kept)).toBe(false);
  });
});

describe('the loss of a dropped table', () => {
  it('is the rows the workload wrote to it after the backup, counted independently from the dump', async () => {
    const file = writeDrill(drills, drillYaml({ name: 'trades-drop', fault: { type: 'drop-table', table: 'trades' }, recovery: { procedure: 'restore-table' } }));
    const drill = (await runDrills([file], reports, { keep: true })).journal.drills[0]!;
    expect(drill.verdict).toBe('pass');
    // The dump's own trades rows beyond the seeded ones: what the workload had written by the backup.
    const { binDir } = await findPgBinaries();
    const data = execFileSync(join(binDir, 'pg_restore'), ['--data-only', '--table=trades', '--file=-', drill.backup!.path], { encoding: 'utf8' });
    const rows = data.slice(data.indexOf('COPY public.trades'), data.indexOf('\n\\.')).split('\n').slice(1);
    const inBackup = rows.filter((row) => Number(row.split('\t')[0]) > SCALES.tiny.trades).length;
    const committed = (drill.fault as { workload: { committed: number } }).workload.committed;
    expect(drill.rpo!.tables!.trades).toEqual({ written: committed, lost: committed - inBackup });
    expect(committed - inBackup).toBeGreaterThan(0);
    expect(drill.rpo!.lostRows).toBe(0); // The ledger was not touched.
  });
});
