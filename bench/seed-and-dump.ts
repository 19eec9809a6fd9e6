/**
 * `npm run bench`: the harness against the raw tools, in the same run on the
 * same machine, reported as ratios.
 *  - seeding: one million candle rows streamed by the harness (generated on the
 *    fly, COPY FROM STDIN) vs a plain server-side COPY of the same rows from a file;
 *  - backup: the harness's pg_dump step (dump + SHA-256 sidecar) vs a bare pg_dump -Fc;
 *  - memory: the harness's peak resident memory while it streams the rows.
 * Goal (issue 2): seeding within about 2x of the plain COPY.
 */
import { createWriteStream } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { dump } from '../src/backup/pg-dump.js';
import { candlesStream, symbolsStream } from '../src/dataset/generators.js';
import type { Scale } from '../src/dataset/scale.js';
import { SCHEMA_SQL } from '../src/dataset/schema.js';
import { copyTable } from '../src/dataset/seed.js';
import { NativeEngine } from '../src/engines/native/engine.js';
import { handOver, unprivilegedUser } from '../src/engines/shared/os-user.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const scale: Scale = { symbols: 100, candlesPerSymbol: 10_000, orders: 0, trades: 0, accounts: 0 };
const SEED = 1;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

const engine = await NativeEngine.create({ runId: 'bench' });
const logs = await mkdtemp(join(tmpdir(), 'rd-bench-logs-'));
const instance = await engine.startInstance('bench', logs);
try {
  const admin = await instance.connect();
  await admin.query('create database market');
  await admin.end();
  const client = await instance.connect('market');
  await client.query(SCHEMA_SQL);
  await copyTable(client, symbolsStream(SEED, scale));

  // The same rows as a file the server can read, written before any timing starts.
  const rowsFile = join(instance.backupDir, 'candles.copy');
  await pipeline(Readable.from(candlesStream(SEED, scale).stream()), createWriteStream(rowsFile));
  await chmod(rowsFile, 0o644);
  await handOver(rowsFile, unprivilegedUser());

  const columns = candlesStream(SEED, scale).columns.join(', ');
  const harness: number[] = [];
  const raw: number[] = [];
  let peakRss = 0;
  for (let round = 0; round < ROUNDS; round++) {
    await client.query('truncate candles');
    await client.query('checkpoint');
    raw.push(await timed(() => client.query(`copy candles (${columns}) from '${rowsFile}'`)));
    await client.query('truncate candles');
    await client.query('checkpoint');
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
    harness.push(await timed(() => copyTable(client, candlesStream(SEED, scale))));
    clearInterval(sampler);
  }
  const rows = scale.symbols * scale.candlesPerSymbol;

  const dumpHarness: number[] = [];
  const dumpRaw: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const plain = join(instance.backupDir, `raw-${round}.dump`);
    dumpRaw.push(await timed(() => instance.runPgTool('pg_dump', ['--format=custom', `--file=${plain}`, '--dbname=market'])));
    await rm(plain);
    let artifact = '';
    dumpHarness.push(await timed(async () => (artifact = (await dump(instance, 'market', 'custom')).path)));
    await rm(artifact);
    await rm(`${artifact}.sha256`);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // Dump names carry the second.
  }
  await client.end();

  const table = [
    ['measure', 'harness', 'raw tool', 'ratio'],
    [`seed ${rows.toLocaleString('en-US')} candle rows (median of ${ROUNDS})`, `${(median(harness) / 1000).toFixed(2)} s`, `${(median(raw) / 1000).toFixed(2)} s (COPY FROM file)`, `${(median(harness) / median(raw)).toFixed(2)}x`],
    [`backup (median of ${ROUNDS})`, `${(median(dumpHarness) / 1000).toFixed(2)} s`, `${(median(dumpRaw) / 1000).toFixed(2)} s (pg_dump -Fc)`, `${(median(dumpHarness) / median(dumpRaw)).toFixed(2)}x`],
    ['peak RSS while seeding', `${(peakRss / 2 ** 20).toFixed(0)} MiB`, '', ''],
  ];
  table.splice(1, 0, ['---', '---', '---', '---']);
  for (const line of table) console.log(`| ${line.join(' | ')} |`);
  const ratio = median(harness) / median(raw);
  console.log(ratio <= 2 ? `\nseeding goal met: ${ratio.toFixed(2)}x <= 2x a plain COPY` : `\nseeding goal MISSED: ${ratio.toFixed(2)}x > 2x a plain COPY`);
  process.exitCode = ratio <= 2 ? 0 : 1;
} finally {
  await instance.destroy({ keepFiles: false });
  await engine.dispose();
  await rm(logs, { recursive: true, force: true });
}
