/** pg_dump backups and their SHA-256 sidecars, checked before any restore trusts them. */
import { openSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySidecar } from '../src/backup/sidecars.js';
import type { BackupArtifact } from '../src/model/artifact.js';
import { dump } from '../src/backup/pg-dump.js';
import { seedDataset } from '../src/dataset/seed.js';
import { NativeEngine } from '../src/engines/native/engine.js';
import type { NativeInstance } from '../src/engines/native/instance.js';
import { BackupIntegrityError } from '../src/errors.js';
import { parseSchemaScript, selectList, tablePrefixes } from '../src/pg/toc.js';
import { tempDir } from './helpers.js';

let engine: NativeEngine;
let instance: NativeInstance;
let backup: BackupArtifact;

beforeAll(async () => {
  engine = await NativeEngine.create({ runId: 'backuptest' });
  instance = await engine.startInstance('primary', tempDir('backup-logs'));
  const admin = await instance.connect();
  await admin.query('create database market');
  await admin.end();
  const client = await instance.connect('market');
  await seedDataset(client, { scale: 'tiny', seed: 3, timescale: false });
  await client.end();
  backup = await dump(instance, 'market', 'custom');
});
afterAll(async () => {
  await instance?.destroy({ keepFiles: false });
  await engine?.dispose();
});

describe('pg_dump custom-format backup', () => {
  it('writes the dump with a sidecar that sha256sum -c accepts', async () => {
    expect(backup.path).toMatch(/market_\d{8}_\d{6}\.dump$/);
    expect(backup.sizeBytes).toBeGreaterThan(10_000);
    expect(backup.tool).toMatch(/pg_dump \(PostgreSQL\) \d+/);
    const result = await execa('sha256sum', ['-c', backup.sidecar], { cwd: dirname(backup.path) });
    expect(result.stdout).toMatch(/: OK$/);
    expect(await verifySidecar(backup.path)).toBe(backup.sha256);
  });

  it('a flipped byte is caught before the backup is trusted', async () => {
    const copy = `${backup.path}.copy`;
    await execa('cp', [backup.path, copy]);
    await execa('cp', [backup.sidecar, `${copy}.sha256`]);
    const fd = openSync(copy, 'r+');
    writeSync(fd, Buffer.from([0xff]), 0, 1, 4096);
    closeSync(fd);
    await expect(verifySidecar(copy)).rejects.toThrow(BackupIntegrityError);
    await expect(verifySidecar(copy)).rejects.toThrow(/the backup is corrupt/);
  });

  it('a backup without its sidecar is not trusted', async () => {
    const copy = `${backup.path}.nosidecar`;
    await execa('cp', [backup.path, copy]);
    await expect(verifySidecar(copy)).rejects.toThrow(/checksum sidecar .* is missing/);
  });
});

describe("single-table restore's selection from the archive", () => {
  async function selectionFor(table: string): Promise<string[]> {
    const list = (await instance.runPgTool('pg_restore', ['--list', backup.path])).stdout;
    const script = (await instance.runPgTool('pg_restore', ['--schema-only', '--file=-', backup.path])).stdout;
    return selectList(list, tablePrefixes(parseSchemaScript(script), 'public', table)).selected;
  }

  it('takes a table with its data, indexes, constraints and outgoing foreign keys, and nothing else', async () => {
    const selected = await selectionFor('candles');
    expect(selected.map((e) => e.replace(/ \S+$/, ''))).toEqual(
      expect.arrayContaining([
        'TABLE public candles',
        'TABLE DATA public candles',
        'CONSTRAINT public candles candles_pkey',
        'INDEX public candles_ts_idx',
        'FK CONSTRAINT public candles candles_symbol_id_fkey',
      ]),
    );
    expect(selected.join('\n')).not.toMatch(/trades|orders|positions|symbols_pkey/);
  });

  it('takes the identity sequence and its value with the table that owns it', async () => {
    const selected = await selectionFor('orders');
    expect(selected).toEqual(
      expect.arrayContaining([expect.stringMatching(/^SEQUENCE public orders_order_id_seq /), expect.stringMatching(/^SEQUENCE SET public orders_order_id_seq /)]),
    );
  });

  it('takes the foreign keys of other tables that point at the table', async () => {
    const selected = await selectionFor('symbols');
    for (const fk of ['candles candles_symbol_id_fkey', 'orders orders_symbol_id_fkey', 'trades trades_symbol_id_fkey', 'positions positions_symbol_id_fkey']) {
      expect(selected).toEqual(expect.arrayContaining([expect.stringContaining(`FK CONSTRAINT public ${fk} `)]));
    }
  });
});
