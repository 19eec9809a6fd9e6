/** Drill files are validated completely before anything starts. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDrills } from '../src/drill/load.js';
import { main } from '../src/cli/commands.js';
import { drillYaml, tempDir, writeDrill } from './helpers.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe('drill files', () => {
  it('ships drills that validate, with defaults filled in', async () => {
    const drills = await loadDrills(['drills']);
    expect(drills.map((d) => d.spec.name)).toEqual(expect.arrayContaining(['table-drop', 'database-loss']));
    const tableDrop = drills.find((d) => d.spec.name === 'table-drop')!.spec;
    expect(tableDrop.checks).toEqual(['schema', 'row-counts', 'fingerprint', 'freshness']);
    expect(tableDrop.targets.rto).toBe(15 * 60_000);
  });

  it('reports every problem with its file and field path, unknown keys included', async () => {
    const dir = tempDir('bad');
    const file = writeDrill(
      dir,
      drillYaml({
        name: 'bad',
        dataset: { scale: 'huge', sede: 3 },
        fault: { type: 'drop-table', table: 'candels' },
        targets: { rto: '15 minutes' },
        surprise: true,
      }),
    );
    const error = await loadDrills([file]).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const lines = (error as Error).message.split('\n');
    const name = file.replace(`${process.cwd()}/`, '');
    expect(lines).toEqual(
      expect.arrayContaining([
        `${name}: dataset.scale: expected one of tiny, small, medium, large or a whole number of candle rows from 1000 to 200000000, or a list of 2 to 4 of them, got "huge"`,
        expect.stringMatching(new RegExp(`^${name}: dataset: unknown key "sede"`)),
        `${name}: fault.table: expected one of symbols, candles, orders, trades, positions, drill_ledger, got "candels"`,
        expect.stringMatching(new RegExp(`^${name}: targets.rto: expected a duration`)),
        `${name}: targets.rpo: required`,
        expect.stringMatching(new RegExp(`^${name}: \\(top level\\): unknown key "surprise"`)),
      ]),
    );
  });

  it('reports YAML syntax errors with line and column', async () => {
    const dir = tempDir('syntax');
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'name: [\n');
    await expect(loadDrills([file])).rejects.toThrow(/broken\.yaml:\d+:\d+: YAML syntax/);
  });

  it('a drill at several scales is one drill per scale, grouped for the projection; a production size needs several', async () => {
    const dir = tempDir('scales');
    const file = writeDrill(dir, drillYaml({ name: 'sized', dataset: { scale: ['tiny', 'small'], seed: 1 }, targets: { rto: '1h', rpo: '1h', productionSize: '800GB' } }));
    const drills = await loadDrills([file]);
    expect(drills.map((d) => [d.spec.name, d.spec.dataset.scale])).toEqual([
      ['sized-tiny', 'tiny'],
      ['sized-small', 'small'],
    ]);
    expect(drills[0]!.projection).toEqual({ name: 'sized', members: ['sized-tiny', 'sized-small'], productionSizeBytes: 800 * 1024 ** 3 });

    const bad = tempDir('scales-bad');
    writeDrill(bad, drillYaml({ name: 'one-size', targets: { rto: '1h', rpo: '1h', productionSize: '800GB' } }));
    writeDrill(bad, drillYaml({ name: 'twice', dataset: { scale: ['tiny', 'tiny'] } }));
    writeDrill(bad, drillYaml({ name: 'x'.repeat(60), dataset: { scale: ['tiny', 'medium'] } }));
    writeDrill(bad, drillYaml({ name: 'too-few', dataset: { scale: [500, 'small'] } }));
    const error = await loadDrills([bad]).catch((e: Error) => e.message);
    expect(error).toMatch(/one-size\.yaml: targets\.productionSize: a projection needs the drill at several sizes/);
    expect(error).toMatch(/twice\.yaml: dataset\.scale: tiny, tiny names a scale twice/);
    expect(error).toMatch(/x{60}-medium \(the drill at one of its scales\) is longer than 63 characters/);
    expect(error).toMatch(/too-few\.yaml: dataset\.scale\.0: a scale in candle rows must be a whole number from 1000 to 200000000, got 500/);
  });

  it('recovery.at is for a backup made elsewhere, and needs a target saying what it is', async () => {
    const bad = tempDir('recovery-at');
    const elsewhere = { database: 'ledger', dataset: undefined, workload: undefined, backup: { method: 'existing-base-backup', path: 'base', wal: 'wal' }, fault: { type: 'production-lost' } };
    writeDrill(bad, drillYaml({ name: 'at-with-bad-write', backup: { method: 'pg_basebackup' }, fault: { type: 'bad-write', sql: 'delete from trades' }, recovery: { procedure: 'point-in-time', target: 'time', at: '2026-11-21 14:30:00+00' } }));
    writeDrill(bad, drillYaml({ name: 'at-without-target', ...elsewhere, recovery: { procedure: 'point-in-time', at: '2026-11-21 14:30:00+00' } }));
    writeDrill(bad, drillYaml({ name: 'target-without-at', ...elsewhere, recovery: { procedure: 'point-in-time', target: 'time' } }));
    const error = await loadDrills([bad]).catch((e: Error) => e.message);
    expect(error).toMatch(/at-with-bad-write\.yaml: recovery\.procedure: recovery\.at is for a backup made elsewhere; here the fault marks the moment to stop at itself: remove at/);
    expect(error).toMatch(/at-without-target\.yaml: recovery\.procedure: recovery\.at needs recovery\.target time, lsn, xid or name/);
    expect(error).toMatch(/target-without-at\.yaml: recovery\.target: target time is the moment before a bad write: .*for a backup made elsewhere, give the moment as recovery\.at/);
  });

  it('rejects two drills with the same name', async () => {
    const dir = tempDir('dup');
    writeDrill(dir, drillYaml({ name: 'same' }));
    writeFileSync(join(dir, 'copy.yaml'), 'name: same\nbackup: {method: pg_dump}\nfault: {type: drop-database}\nrecovery: {procedure: none}\ntargets: {rto: 1m, rpo: 0}\n');
    await expect(loadDrills([dir])).rejects.toThrow(/same\.yaml: name: "same" is already used by .*copy\.yaml/);
  });

  it('exits 2 from validate and from run, naming the file and the field, before anything starts', async () => {
    const dir = tempDir('cli-bad');
    const file = writeDrill(dir, drillYaml({ name: 'bad-cli', recovery: { procedure: 'restore-tabel' } }));
    for (const command of ['validate', 'run']) {
      const { io, err } = capture();
      expect(await main([command, file], io)).toBe(2);
      expect(err.join('\n')).toMatch(/bad-cli\.yaml: recovery\.procedure: expected procedure: restore-table, restore-database, point-in-time, failover, restart, free-space, script, none/);
    }
  });

  it('gives each command its own --help: its synopsis and only the options it takes', async () => {
    const { io, out } = capture();
    expect(await main(['status', '--help'], io)).toBe(0);
    const help = out.join('\n');
    expect(help).toMatch(/^Usage: restore-drill status \[<drill.yaml\|folder>...\] \[--history FILE\] \[--max-age 35d\]/);
    expect(help).toMatch(/--max-age AGE/);
    expect(help).not.toMatch(/--sign-key|keygen/);
  });

  it('exits 2 for an unknown command or flag', async () => {
    expect(await main(['explode', 'drills'], capture().io)).toBe(2);
    expect(await main(['run', 'drills', '--fast'], capture().io)).toBe(2);
  });
});
