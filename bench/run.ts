/**
 * `npm run bench`: the harness against the raw tools, side by side in one
 * run on one machine, every figure a ratio (or a rate) with its goal. Prints a
 * Markdown table and writes the same as JSON (BENCH_OUT, default
 * reports/bench.json) for comparisons across commits.
 *
 *  - seed: one million candle rows streamed by the harness vs a plain
 *    server-side COPY of the same rows from a file;
 *  - backup: the harness's pg_dump step (dump + SHA-256 sidecar) vs a bare pg_dump -Fc;
 *  - restore: the harness's restore-database step (pg_restore -j 2, then
 *    vacuumdb --analyze-only -j 2) vs the same done by hand, its integrity
 *    checks timed apart;
 *  - verification: the content fingerprint of candles, in rows per second;
 *  - instance ready: native from initdb's template, native from the seed
 *    cache, and Docker (where an image is here) on the network auto chose,
 *    and from the cache on Docker's bridge too where that was the host's,
 *    from asking to a first answer (the removal after is not timed);
 *  - a whole drill: setup + seed from the cache vs a fresh seed, and the
 *    harness's own share of the wall time (less the tool commands it ran and
 *    its configured waits), the median of BENCH_ROUNDS drills from the cache;
 *  - peak RSS of a whole drill at each scale (`large` with BENCH_LARGE=1).
 *
 * BENCH_SCALE (default medium) sets the dataset of the backup, restore and
 * drill figures; BENCH_ROUNDS (default 5) the rounds of each timed pair. The
 * seed, backup and restore pairs are timed in turns, harness and raw tool, so
 * the machine's drift during the run weighs on both, and each ratio is the
 * median of the rounds' own ratios. Five, not three: medians of three moved
 * their ratios by up to 7 % from run to run on this machine, more than the
 * margin their goals are judged by. Every round starts after a CHECKPOINT and
 * a sync, untimed, and the JSON keeps every round's time.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dump, dumpChain } from '../src/backup/pg-dump.js';
import { captureState } from '../src/checks/snapshot.js';
import { candlesStream, symbolsStream } from '../src/dataset/generators.js';
import { SCALE_NAMES, type Scale, type ScaleName } from '../src/dataset/scale.js';
import { SCHEMA_SQL } from '../src/dataset/schema.js';
import { copyTable, seededRange, seedDataset } from '../src/dataset/seed.js';
import { loadDrills } from '../src/drill/load.js';
import { DrillRun } from '../src/drill/run.js';
import { createEngine } from '../src/engines/index.js';
import type { Instance } from '../src/engines/types.js';
import type { DrillJournal } from '../src/model/journal.js';
import { quoteIdent, withClient } from '../src/pg/client.js';
import { procedureModule } from '../src/recovery/index.js';
import { databaseLossDrill } from './drill-file.js';
import { inTurn, machine, median, pairedRatio, readyRounds, roundsOf, timed } from './timing.js';

// As the CLI does: testcontainers' reaper image cannot be pulled everywhere, and the engine removes what it starts.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SCALE = (process.env.BENCH_SCALE ?? 'medium') as ScaleName;
if (!SCALE_NAMES.includes(SCALE)) throw new Error(`BENCH_SCALE: expected one of ${SCALE_NAMES.join(', ')}, got "${SCALE}"`);
const OUT = process.env.BENCH_OUT ?? 'reports/bench.json';
const SEED_ROWS: Scale = { symbols: 100, candlesPerSymbol: 10_000, orders: 0, trades: 0, accounts: 0, clusterBytes: 0 };

interface Figure {
  measure: string;
  harness: string;
  raw: string;
  /** harness / raw, or a rate; what the goal is judged on. */
  value: number;
  unit: 'x' | 'rows/s' | 's' | 'MiB' | '%';
  goal?: { max?: number; min?: number };
  note?: string;
  /** Every round's milliseconds, in the order they ran: how much the machine moved under the median (for a share, `raw` is the whole it is a share of). */
  rounds?: { harness: number[]; raw?: number[] };
}

const figures: Figure[] = [];
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const ratio = (value: number) => Number(value.toFixed(3));
const ms = (times: number[]) => times.map(Math.round);
function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

const work = await mkdtemp(join(tmpdir(), 'rd-bench-'));
await chmod(work, 0o755);
process.env.RESTORE_DRILL_CACHE = join(work, 'seed-cache');
const engine = await createEngine({ kind: 'native' }, { runId: 'bench' });
const postgres = engine.describe().version ?? 'unknown';
const instances: Instance[] = [];
const start = async (name: string, options = {}) => {
  const instance = await engine.startInstance(name, join(work, 'logs'), options);
  instances.push(instance);
  return instance;
};
/**
 * Removes an instance once its figures are taken: a server left running
 * (autovacuum over gigabytes just restored, checkpoints) would take CPU from
 * the figures after it.
 */
const remove = async (instance: Instance) => {
  instances.splice(instances.indexOf(instance), 1);
  await instance.destroy({ keepFiles: false });
};
/**
 * Untimed before every timed round: the server's dirty pages written out
 * (CHECKPOINT) and then the kernel's (sync), so no round pays for the writes
 * of the round before it, which a restore of gigabytes leaves behind.
 */
const settle = async (instance?: Instance) => {
  if (instance) await withClient(() => instance.connect(), (admin) => admin.query('checkpoint'));
  execFileSync('sync');
};

try {
  // Seeding: the harness's stream against COPY of the same rows from a file the server reads.
  log('seed vs COPY');
  const seeder = await start('seed');
  await withClient(() => seeder.connect(), (admin) => admin.query('create database market'));
  await withClient(
    () => seeder.connect('market'),
    async (client) => {
      await client.query(SCHEMA_SQL);
      await copyTable(client, symbolsStream(1, SEED_ROWS));
      const rowsFile = join(seeder.backupDir, 'candles.copy');
      await pipeline(Readable.from(candlesStream(1, SEED_ROWS).stream()), createWriteStream(rowsFile));
      await chmod(rowsFile, 0o644);
      const columns = candlesStream(1, SEED_ROWS).columns.join(', ');
      const reset = async () => {
        await client.query('truncate candles');
        await settle(seeder);
      };
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
      const [raw, harness] = await inTurn(
        ROUNDS,
        { work: () => client.query(`copy candles (${columns}) from '${rowsFile}'`), prepare: reset },
        { work: () => copyTable(client, candlesStream(1, SEED_ROWS)), prepare: reset },
      );
      clearInterval(sampler);
      const rows = (SEED_ROWS.symbols * SEED_ROWS.candlesPerSymbol).toLocaleString('en-US');
      figures.push({
        measure: `seed ${rows} candle rows`,
        harness: s(median(harness)),
        raw: `${s(median(raw))} (COPY FROM file)`,
        value: ratio(pairedRatio(harness, raw)),
        unit: 'x',
        goal: { max: 1.2 },
        rounds: { harness: ms(harness), raw: ms(raw) },
      });
      figures.push({ measure: 'peak RSS of the bench while seeding', harness: `${Math.round(peak / 2 ** 20)} MiB`, raw: '', value: Math.round(peak / 2 ** 20), unit: 'MiB', goal: { max: 250 } });
    },
  );
  await remove(seeder);

  // The dataset the backup, restore and verification figures are taken on.
  log(`seeding a ${SCALE} dataset`);
  const primary = await start('primary');
  await withClient(() => primary.connect(), (admin) => admin.query('create database market'));
  await withClient(() => primary.connect('market'), (client) => seedDataset(client, { scale: SCALE, seed: 1, timescale: false }));

  log('backup vs pg_dump');
  let newest = '';
  const [dumpRaw, dumpHarness] = await inTurn(
    ROUNDS,
    {
      work: () => primary.runPgTool('pg_dump', ['--format=custom', `--file=${join(primary.backupDir, 'raw.dump')}`, '--dbname=market']),
      prepare: async () => {
        await rm(join(primary.backupDir, 'raw.dump'), { force: true });
        await settle(primary);
      },
    },
    {
      work: async () => (newest = (await dump(primary, 'market', 'custom')).path),
      // Dump names carry the second; the previous round's dump goes first.
      prepare: async () => {
        if (newest) await rm(newest).then(() => rm(`${newest}.sha256`));
        await new Promise((resolve) => setTimeout(resolve, 1100));
        await settle(primary);
      },
    },
  );
  figures.push({
    measure: `backup (${SCALE})`,
    harness: s(median(dumpHarness)),
    raw: `${s(median(dumpRaw))} (pg_dump -Fc)`,
    value: ratio(pairedRatio(dumpHarness, dumpRaw)),
    unit: 'x',
    goal: { max: 1.05 },
    rounds: { harness: ms(dumpHarness), raw: ms(dumpRaw) },
  });
  const backup = await dump(primary, 'market', 'custom');

  log('integrity checks');
  const checks = [];
  for (const check of dumpChain(primary, backup.path, 'custom', true)) checks.push(`${check.check} ${s(await timed(check.run))}`);

  log('restore vs pg_restore');
  // Both sides drop the last round's database untimed and create theirs timed (the harness's procedure creates it).
  const sql = (statement: string) => withClient(() => primary.connect(), (admin) => admin.query(statement));
  const drop = async (db: string) => {
    await sql(`drop database if exists ${quoteIdent(db)} with (force)`);
    await settle(primary);
  };
  const procedure = procedureModule('restore-database');
  const [restoreRaw, restoreHarness] = await inTurn(
    ROUNDS,
    {
      work: async () => {
        await sql('create database by_hand');
        await primary.runPgTool('pg_restore', ['--jobs=2', '--exit-on-error', '--dbname=by_hand', backup.path]);
        await primary.runPgTool('vacuumdb', ['--analyze-only', '--jobs=2', '--dbname=by_hand']);
      },
      prepare: () => drop('by_hand'),
    },
    {
      work: () =>
        procedure.run(
          {
            engine,
            instance: primary,
            drillName: 'bench',
            database: 'restored',
            rtoTargetMs: 3_600_000,
            backups: [backup],
            fault: {},
            logDir: join(work, 'logs'),
            scriptEnv: async () => ({}),
            track: (instance) => instances.push(instance),
            observe: () => {},
          },
          procedure.schema.parse({ procedure: 'restore-database', jobs: 2, verify: false }),
        ),
      prepare: () => drop('restored'),
    },
  );
  figures.push({
    measure: `restore (${SCALE})`,
    harness: s(median(restoreHarness)),
    raw: `${s(median(restoreRaw))} (pg_restore -j 2, then vacuumdb --analyze-only -j 2)`,
    value: ratio(pairedRatio(restoreHarness, restoreRaw)),
    unit: 'x',
    goal: { max: 1.05 },
    note: `integrity checks before it, apart: ${checks.join(', ')}`,
    rounds: { harness: ms(restoreHarness), raw: ms(restoreRaw) },
  });

  log('verification throughput');
  const candles = await withClient(() => primary.connect('market'), async (client) => Number((await client.query<{ n: string }>('select count(*) as n from candles')).rows[0]!.n));
  const verifyRounds = await roundsOf(ROUNDS, () => captureState((db) => primary.connect(db), 'market', ['candles'], 'bench', seededRange(SCALE)));
  const verify = median(verifyRounds);
  figures.push({
    measure: `verification: fingerprint of candles (${candles.toLocaleString('en-US')} rows)`,
    harness: s(verify),
    raw: '',
    value: Math.round(candles / (verify / 1000)),
    unit: 'rows/s',
    goal: { min: 2_000_000 },
    rounds: { harness: ms(verifyRounds) },
  });
  await remove(primary);

  log('instance ready times');
  // Each a figure in seconds, from its rounds.
  const readyFigure = (measure: string, rounds: number[], goal?: { max: number }): Figure => ({
    measure,
    harness: s(median(rounds)),
    raw: '',
    value: Number((median(rounds) / 1000).toFixed(2)),
    unit: 's',
    ...(goal ? { goal } : {}),
    rounds: { harness: ms(rounds) },
  });
  figures.push(readyFigure('native instance ready (from the initdb template)', await readyRounds(ROUNDS, () => start('ready-template'), settle)));
  const seedTiny = async (builder: Instance) => {
    await withClient(() => builder.connect(), (admin) => admin.query('create database market'));
    await withClient(() => builder.connect('market'), (client) => seedDataset(client, { scale: 'tiny', seed: 1, timescale: false }));
    return {};
  };
  const cached = await engine.seededCluster!('bench-ready', 'bench', join(work, 'logs'), seedTiny, {});
  const fromCache = await readyRounds(ROUNDS, () => start('ready-cache', { cluster: cached!.dataDir }), settle);
  figures.push(readyFigure('native instance ready (from the seed cache, tiny)', fromCache, { max: 0.5 }));
  const image = process.env.BENCH_IMAGE ?? 'restore-drill/postgres:15-local';
  try {
    const docker = await createEngine({ kind: 'docker', image }, { runId: 'bench' });
    // The network auto chose here (src/engines/docker/network.ts): the host's where the Docker engine runs on this machine.
    const network = docker.describe().network ?? 'default';
    try {
      const ready = await readyRounds(ROUNDS, () => docker.startInstance('ready-docker', join(work, 'logs')), settle);
      figures.push(readyFigure(`Docker instance ready (${image}, ${network} network, the entrypoint's initdb)`, ready));
      const seededImage = await docker.seededCluster!('bench-ready', 'bench', join(work, 'logs'), seedTiny, {});
      if (!seededImage) throw new Error('the Docker engine keeps no seed cache here (it needs root)');
      const readyCached = await readyRounds(ROUNDS, () => docker.startInstance('ready-docker-cache', join(work, 'logs'), { cluster: seededImage.dataDir }), settle);
      figures.push(readyFigure(`Docker instance ready (${image}, ${network} network, from the seed cache, tiny)`, readyCached, { max: 1.5 }));
      if (network === 'host') {
        // The same start where auto keeps Docker's bridge (Docker Desktop, an engine elsewhere, rootless Docker): no goal, for comparison.
        const bridge = await createEngine({ kind: 'docker', image, network: 'bridge' }, { runId: 'bench' });
        const onBridge = await readyRounds(ROUNDS, () => bridge.startInstance('ready-docker-bridge', join(work, 'logs'), { cluster: seededImage.dataDir }), settle);
        figures.push(readyFigure(`Docker instance ready (${image}, bridge network, from the seed cache, tiny)`, onBridge));
        await bridge.dispose();
      }
    } finally {
      await docker.dispose();
    }
  } catch (error) {
    figures.push({ measure: 'Docker instance ready', harness: 'not measured', raw: '', value: Number.NaN, unit: 's', note: `no Docker engine or image here: ${(error as Error).message.split('\n')[0]}` });
  }

  // Whole drills: seeded afresh, then built into the cache, then copied from it.
  log(`whole ${SCALE} drills`);
  const drillFile = join(work, 'drill.yaml');
  await writeFile(drillFile, databaseLossDrill(`bench-${SCALE}`, SCALE, 2));
  const waits = 1000 + 1000 + 500; // lead, afterBackup, afterFault (the default)
  const runDrill = async (cache: string | undefined): Promise<DrillJournal> => {
    process.env.RESTORE_DRILL_CACHE = cache ?? 'off';
    const journal = await new DrillRun(await loadDrills([drillFile]), { reportsDir: join(work, 'reports'), keep: false, listeners: [] }).run();
    return journal.drills[0]!;
  };
  const phase = (drill: DrillJournal, name: string) => drill.phases.find((p) => p.name === name)?.durationMs ?? 0;
  const freshDrill = await runDrill(undefined);
  await runDrill(join(work, 'seed-cache')); // Builds the entry.
  // The overhead moves with the machine from drill to drill: the median of ROUNDS drills, as the other figures are medians.
  const copiedDrills: DrillJournal[] = [];
  for (let round = 0; round < ROUNDS; round++) copiedDrills.push(await runDrill(join(work, 'seed-cache')));
  const toolsOf = (drill: DrillJournal) => drill.phases.flatMap((p) => p.commands).reduce((sum, c) => sum + c.durationMs, 0);
  const ownOf = (drill: DrillJournal) => Math.max(0, (drill.durationMs ?? 0) - toolsOf(drill) - waits);
  const shareOf = (drill: DrillJournal) => ownOf(drill) / (drill.durationMs ?? 0);
  const copiedDrill = [...copiedDrills].sort((a, b) => shareOf(a) - shareOf(b))[Math.floor(ROUNDS / 2)]!;
  const setupOf = (drill: DrillJournal) => phase(drill, 'setup') + phase(drill, 'seed');
  const freshSetup = setupOf(freshDrill);
  const copiedSetup = median(copiedDrills.map(setupOf));
  figures.push({
    measure: `setup + seed of a ${SCALE} drill, from the cache (median of ${ROUNDS}) vs fresh`,
    harness: s(copiedSetup),
    raw: `${s(freshSetup)} (fresh seed)`,
    value: Number(((100 * copiedSetup) / freshSetup).toFixed(1)),
    unit: '%',
    goal: { max: 5 },
    rounds: { harness: ms(copiedDrills.map(setupOf)), raw: ms([freshSetup]) },
  });
  const wall = copiedDrill.durationMs ?? 0;
  const tools = toolsOf(copiedDrill);
  const own = ownOf(copiedDrill);
  figures.push({
    measure: `harness overhead in a ${SCALE} drill from the cache (median of ${ROUNDS})`,
    harness: s(own),
    raw: `${s(wall)} wall, ${s(tools)} in tool commands, ${s(waits)} configured waits`,
    value: Number(((100 * own) / wall).toFixed(1)),
    unit: '%',
    goal: { max: 10 },
    rounds: { harness: ms(copiedDrills.map(ownOf)), raw: ms(copiedDrills.map((drill) => drill.durationMs ?? 0)) },
    note: "the harness's own share includes its SQL over connections: the baseline and verification fingerprints, the workload, starts and stops",
  });

  log('peak RSS per scale');
  const scales: ScaleName[] = process.env.BENCH_LARGE === '1' ? ['tiny', 'small', 'medium', 'large'] : ['tiny', 'small', 'medium'];
  for (const scale of scales) {
    const line = execFileSync('npx', ['tsx', 'bench/drill-rss.ts', scale, work], { encoding: 'utf8', env: { ...process.env, TMPDIR: work }, maxBuffer: 16 * 2 ** 20 }).trim().split('\n').at(-1)!;
    const result = JSON.parse(line) as { maxRssMiB: number; wallMs: number; verdict: string };
    figures.push({ measure: `peak RSS of a whole ${scale} drill (${result.verdict}, ${s(result.wallMs)})`, harness: `${result.maxRssMiB} MiB`, raw: '', value: result.maxRssMiB, unit: 'MiB', goal: { max: 250 } });
  }
} finally {
  for (const instance of instances.reverse()) await instance.destroy({ keepFiles: false }).catch(() => undefined);
  await engine.dispose();
  await rm(work, { recursive: true, force: true });
}

const met = (f: Figure) => (f.goal === undefined || Number.isNaN(f.value) ? undefined : (f.goal.max === undefined || f.value <= f.goal.max) && (f.goal.min === undefined || f.value >= f.goal.min));
const goalText = (f: Figure) => (f.goal ? [f.goal.max !== undefined ? `≤ ${f.goal.max}${f.unit === 'x' ? 'x' : ` ${f.unit}`}` : '', f.goal.min !== undefined ? `≥ ${f.goal.min.toLocaleString('en-US')} ${f.unit}` : ''].join('') : '');
const host = machine(postgres);
console.log(`Machine: ${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB; Node ${host.node}; ${host.postgres}; commit ${host.commit}\n`);
console.log('| measure | harness | raw tool | figure | goal | met |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const f of figures) {
  const value = Number.isNaN(f.value) ? 'n/a' : `${f.value.toLocaleString('en-US')}${f.unit === 'x' ? 'x' : ` ${f.unit}`}`;
  const verdict = met(f);
  console.log(`| ${f.measure} | ${f.harness} | ${f.raw} | ${value} | ${goalText(f)} | ${verdict === undefined ? '' : verdict ? 'yes' : '**no**'} |`);
}
for (const f of figures.filter((f) => f.note)) console.log(`\n- ${f.measure}: ${f.note}`);
await mkdir(dirname(OUT), { recursive: true });
await writeFile(OUT, `${JSON.stringify({ at: new Date().toISOString(), machine: host, scale: SCALE, rounds: ROUNDS, figures: figures.map((f) => ({ ...f, met: met(f) })) }, null, 2)}\n`);
console.log(`\nJSON: ${OUT}`);
const missed = figures.filter((f) => met(f) === false);
process.exitCode = missed.length ? 1 : 0;
