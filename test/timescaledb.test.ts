/**
 * TimescaleDB paths: candles as a hypertable with a continuous aggregate, and
 * the full restore inside timescaledb_pre_restore()/post_restore(). They run
 * where the extension is installed for the server binaries in use; elsewhere
 * they are skipped and say why.
 */
import { describe, expect, it } from 'vitest';
import { findPgBinaries, hasTimescaleLibrary } from '../src/engines/shared/binaries.js';
import { check, drillYaml, recoveryOf, runDrills, tempDir, writeDrill } from './helpers.js';

const binaries = await findPgBinaries();
const available = await hasTimescaleLibrary(binaries.binDir);
const reason = `timescaledb is not installed for PostgreSQL ${binaries.major} in ${binaries.binDir}`;

describe.skipIf(!available)(`TimescaleDB drills${available ? '' : ` (skipped: ${reason})`}`, () => {
  const drills = tempDir('tsdb-drills');
  const reports = tempDir('tsdb-reports');

  it('restores a lost TimescaleDB database with pre/post restore and verifies the hypertable', async () => {
    const file = writeDrill(
      drills,
      drillYaml({ name: 'tsdb-db-loss', fault: { type: 'drop-database' }, recovery: { procedure: 'restore-database' } }),
    );
    const { journal } = await runDrills([file], reports);
    const drill = journal.drills[0]!;
    expect(drill.dataset?.layout).toMatch(/hypertable/);
    expect(recoveryOf(drill)?.timescale).toBe(true);
    expect(check(drill, 'fingerprint').verdict).toBe('pass');
    expect(drill.verdict).toBe('pass');
  });

  it('says a single-table restore of a hypertable from pg_dump is unsupported, not passed', async () => {
    const file = writeDrill(drills, drillYaml({ name: 'tsdb-table-drop' }));
    const { journal } = await runDrills([file], reports);
    expect(journal.drills[0]).toMatchObject({ status: 'unsupported', verdict: 'unknown' });
    expect(journal.drills[0]!.error).toMatch(/chunk tables/);
  });
});
