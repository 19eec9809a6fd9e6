/**
 * The Docker engine: the same drills in containers started through
 * testcontainers. CI sets RESTORE_DRILL_REQUIRE_DOCKER=1, so a missing Docker
 * engine or image there is a failure; elsewhere these tests skip and say why.
 */
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect, type AddressInfo } from 'node:net';
import { execa } from 'execa';
import { getContainerRuntimeClient, ImageName } from 'testcontainers';
import { describe, expect, it } from 'vitest';
import { DockerEngine } from '../src/engines/docker/engine.js';
import { NativeEngine } from '../src/engines/native/engine.js';
import { containersOfRun, removeContainerLeftovers } from '../src/engines/docker/leftovers.js';
import { dockerAvailable } from '../src/engines/docker/runtime.js';
import { sharesHostNetwork, type DaemonFacts } from '../src/engines/docker/network.js';
import { LOCAL_IMAGE } from '../src/engines/docker/images.js';
import type { RunJournal } from '../src/model/journal.js';
import { withClient } from '../src/pg/client.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { check, drillYaml, recoveryOf, runDrills, tempDir, tempFoldersOf, writeDrill } from './helpers.js';
import { makeTeamBaseBackup } from './team-base-backup.js';

const IMAGE = process.env.RESTORE_DRILL_TEST_IMAGE ?? LOCAL_IMAGE;
const OTHER_MAJOR_IMAGE = process.env.RESTORE_DRILL_TEST_IMAGE_OTHER_MAJOR ?? 'restore-drill/postgres:17-local';
const REQUIRED = process.env.RESTORE_DRILL_REQUIRE_DOCKER === '1';

process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';

async function imagePresent(image: string): Promise<boolean> {
  const client = await getContainerRuntimeClient();
  return client.image.exists(ImageName.fromString(image));
}

const noDocker = await dockerAvailable();
const missing = noDocker ? `no Docker engine answers (${noDocker.split('\n')[0]})` : (await imagePresent(IMAGE)) ? undefined : `image ${IMAGE} is not present (build it: scripts/docker/build-local-image.sh)`;
const otherMajor = !missing && (await imagePresent(OTHER_MAJOR_IMAGE));
/** The local TimescaleDB images (scripts/docker/build-timescaledb-image.sh), and why each is missing here, if it is. */
const TIMESCALEDB_VERSIONS = ['2.28.3', '2.17.2'] as const;
const timescaleImage = (version: string) => `restore-drill/timescaledb:${version}-pg15-local`;
const timescaleMissing: Record<string, string | undefined> = {};
for (const version of TIMESCALEDB_VERSIONS) {
  timescaleMissing[version] = noDocker
    ? `no Docker engine answers (${noDocker.split('\n')[0]})`
    : (await imagePresent(timescaleImage(version)))
      ? undefined
      : `image ${timescaleImage(version)} is not present (build it: scripts/docker/build-timescaledb-image.sh --version ${version})`;
}

describe('Docker availability', () => {
  it.runIf(REQUIRED)('is required here (RESTORE_DRILL_REQUIRE_DOCKER=1): the engine answers and the image is present', () => {
    expect(missing).toBeUndefined();
  });
});

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

describe.skipIf(missing !== undefined)(`docker engine${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const drills = tempDir('docker-drills');
  const reports = tempDir('docker-reports');
  const onDocker = (overrides: Record<string, unknown>) =>
    drillYaml({ ...overrides, engine: { kind: 'docker', image: IMAGE, ...(overrides.engine as object) } });

  it('passes the same drills as the native engine, with the same phases and checks', async () => {
    const scenarios = [
      { name: 'table-drop' },
      { name: 'database-loss', fault: { type: 'drop-database' }, recovery: { procedure: 'restore-database' } },
    ];
    for (const scenario of scenarios) {
      const native = writeDrill(drills, drillYaml({ ...scenario, name: `${scenario.name}-native` }));
      const docker = writeDrill(drills, onDocker({ ...scenario, name: `${scenario.name}-docker` }));
      const { journal } = await runDrills([native, docker], reports);
      const [onNative, inContainer] = journal.drills;
      expect(inContainer!.engine).toMatchObject({ kind: 'docker', image: IMAGE, toolSource: 'container' });
      expect(inContainer!.verdict).toBe('pass');
      expect(onNative!.verdict).toBe('pass');
      expect(inContainer!.phases.map((p) => p.name)).toEqual(onNative!.phases.map((p) => p.name));
      expect(inContainer!.checks.map((c) => [c.name, c.verdict])).toEqual(onNative!.checks.map((c) => [c.name, c.verdict]));
      // Same seed, same rows: the fingerprints agree across engines.
      expect(check(inContainer!, 'fingerprint').evidence.tables).toEqual(check(onNative!, 'fingerprint').evidence.tables);
      // Tools ran inside the container, recorded with their version, and matched the server.
      const dump = inContainer!.phases.find((p) => p.name === 'backup')!.commands[0]!;
      expect(dump.command).toMatch(/^docker exec --user postgres [0-9a-f]{12} pg_dump /);
      expect(dump.tool).toMatch(new RegExp(`pg_dump in ${IMAGE}: pg_dump \\(PostgreSQL\\) ${inContainer!.engine!.major}\\.`));
      expect(inContainer!.warnings).toBeUndefined();
      expect(existsSync(join(reports, journal.runId, `${scenario.name}-docker`, `postgresql-${scenario.name}-docker.log`))).toBe(true);
      expect(await containersOfRun(journal.runId)).toEqual([]);
      expect(tempFoldersOf(journal.runId)).toEqual([]);
    }
  });

  it.runIf(process.getuid?.() === 0)('keeps a seed cache as the native engine does: built once, then copied; the copy holds exactly what a fresh seed holds, and passes', async () => {
    const sharedCache = process.env.RESTORE_DRILL_CACHE;
    const cache = tempDir('docker-cache');
    const run = async (name: string, setting: string) => {
      process.env.RESTORE_DRILL_CACHE = setting;
      return (await runDrills([writeDrill(drills, onDocker({ name, dataset: { scale: 'tiny', seed: 13 } }))], reports)).journal.drills[0]!;
    };
    try {
      const built = await run('docker-cache-built', cache);
      const copied = await run('docker-cache-copied', cache);
      const fresh = await run('docker-cache-off', 'off');
      expect(built.phases[0]!.detail).toMatchObject({ seedCache: 'built' });
      expect(copied.phases[0]!.detail).toMatchObject({ seedCache: 'copied' });
      expect(copied.dataset!.cache).toMatchObject({ builtNow: false, key: built.dataset!.cache!.key });
      expect(fresh.dataset!.cache).toBeUndefined();
      for (const drill of [built, copied, fresh]) expect(drill.verdict, drill.name).toBe('pass');
      // Every seeded table's fingerprint, equal to the last bit; the copy's superuser took this run's password.
      const seeded = (drill: typeof built) => drill.phases.find((p) => p.name === 'baseline')!.detail!.tables;
      expect(seeded(copied)).toEqual(seeded(fresh));
      // Over the container's own socket, once it runs (no short-lived container of its own): the statement, which carries
      // the password's verifier, in the environment, not the command.
      const setup = copied.phases[0]!.commands.map((c) => c.command).join('\n');
      expect(setup).toMatch(/docker exec --user postgres \w+ sh -c .*pg_isready .*"\$STATEMENT" \| psql/);
      expect(setup).not.toMatch(/postgres --single/);
      expect(readdirSync(cache).filter((name) => name.startsWith('seed-'))).toHaveLength(1);
      // A cluster whose socket asks for a password (an image whose initdb trusts nothing): single-user mode, in a container of its own.
      const entry = join(cache, readdirSync(cache).find((name) => name.startsWith('seed-'))!, 'data', 'pg_hba.conf');
      writeFileSync(entry, readFileSync(entry, 'utf8').replace(/^(local\s+all\s+all\s+)trust\s*$/m, '$1scram-sha-256'));
      const guarded = await run('docker-cache-guarded', cache);
      expect(guarded.verdict).toBe('pass');
      expect(guarded.phases[0]!.commands.map((c) => c.command).join('\n')).toMatch(/postgres --single/);
    } finally {
      process.env.RESTORE_DRILL_CACHE = sharedCache;
    }
  });

  // On the bridge Docker may publish the port anew after the restart; on the host's network the server keeps its own.
  it.each(['host', 'bridge'] as const)('kills the server mid-write and recovers it by restart with no committed row lost, on the %s network', async (network) => {
    const file = writeDrill(drills, onDocker({ name: `docker-kill-${network}`, engine: { network }, fault: { type: 'kill-server' }, recovery: { procedure: 'restart' }, targets: { rto: '5m', rpo: '0' } }));
    const { journal } = await runDrills([file], reports);
    const drill = journal.drills[0]!;
    expect(drill.engine).toMatchObject({ network, networkChosenBy: 'engine.network' });
    expect(drill.verdict).toBe('pass');
    expect(drill.rpo).toMatchObject({ lostRows: 0, measuredMs: 0 });
    expect((drill.fault as { workload: { errors: string[] } }).workload.errors.length).toBe(1);
  });

  it("on the host's network a server listens on loopback alone, at a port of its own; on the bridge, on 5432 published; auto takes the host's here", async () => {
    const daemon = (await (await getContainerRuntimeClient()).container.dockerode.info()) as DaemonFacts;
    const auto = await DockerEngine.create({ runId: 'dockernetauto', image: IMAGE });
    expect(auto.describe()).toMatchObject(
      sharesHostNetwork(daemon) === undefined
        ? { network: 'host', networkChosenBy: 'auto: the Docker engine runs on this machine' }
        : { network: 'bridge', networkChosenBy: expect.stringMatching(/^auto: /) },
    );
    const listening = async (network: 'host' | 'bridge') => {
      const engine = await DockerEngine.create({ runId: `dockernet${network}`, image: IMAGE, network });
      expect(engine.describe()).toMatchObject({ network, networkChosenBy: 'engine.network' });
      const instance = await engine.startInstance(`net-${network}`, tempDir(`docker-net-${network}-logs`));
      try {
        const { rows } = await withClient(
          () => instance.connect(),
          (client) => client.query<{ listen: string; port: string }>("select current_setting('listen_addresses') as listen, current_setting('port') as port"),
        );
        const inspect = JSON.parse((await execa('docker', ['inspect', instance.id])).stdout)[0];
        return { listen: rows[0]!.listen, port: Number(rows[0]!.port), connection: instance.connection, serverSide: instance.serverSide, mode: inspect.HostConfig.NetworkMode };
      } finally {
        await instance.destroy({ keepFiles: false });
      }
    };
    const onHost = await listening('host');
    expect(onHost).toMatchObject({ listen: '127.0.0.1', mode: 'host', connection: { host: '127.0.0.1', port: onHost.port }, serverSide: { port: onHost.port } });
    const onBridge = await listening('bridge');
    expect(onBridge).toMatchObject({ listen: '*', port: 5432, serverSide: { port: 5432 } });
    expect(onBridge.mode).not.toBe('host');
    expect(onBridge.connection.port).not.toBe(5432);
  });

  it('offers a size-limited tmpfs data folder', async () => {
    const engine = await DockerEngine.create({ runId: 'dockertmpfs', image: IMAGE });
    const instance = await engine.startInstance('tmpfs', tempDir('docker-tmpfs-logs'), { dataVolumeBytes: 64 * 1024 ** 2 });
    try {
      const df = await execa('docker', ['exec', instance.id, 'df', '-B1', '--output=fstype,size', '/var/lib/postgresql/data']);
      expect(df.stdout).toMatch(/tmpfs\s+67108864/);
      expect(engine.capabilities({ dataVolumeBytes: 64 * 1024 ** 2 }).kill).toMatchObject({ supported: false });
      expect(instance.kill).toBeUndefined();
    } finally {
      await instance.destroy({ keepFiles: false });
    }
  });

  it('says unsupported, with why, when a fault needs a capability the instance lacks', async () => {
    const file = writeDrill(
      drills,
      onDocker({ name: 'docker-kill-tmpfs', engine: { dataVolume: '64m' }, fault: { type: 'kill-server' }, recovery: { procedure: 'restart' } }),
    );
    const { journal } = await runDrills([file], reports);
    expect(journal.drills[0]).toMatchObject({ status: 'unsupported', verdict: 'unknown' });
    expect(journal.drills[0]!.error).toMatch(/kill-server \/ restart needs kill on the docker engine: the data folder is a tmpfs/);
    expect(await containersOfRun(journal.runId)).toEqual([]);
  });

  it('recovers to the moment before a bad write from pg_basebackup + WAL archive, into a new container', async () => {
    const file = writeDrill(
      drills,
      onDocker({
        name: 'docker-pitr',
        backup: { method: 'pg_basebackup', archiveTimeout: '1s' },
        workload: { rate: 50, lead: '300ms', afterBackup: '1500ms', afterFault: '700ms' },
        fault: { type: 'bad-write' },
        recovery: { procedure: 'point-in-time', target: 'xid' },
        targets: { rto: '2h', rpo: '5m' },
      }),
    );
    const { journal } = await runDrills([file], reports);
    const drill = journal.drills[0]!;
    expect(drill.verdict).toBe('pass');
    expect(drill.rpo).toMatchObject({ lostRows: 0, pastTargetRows: 0 });
    expect(check(drill, 'fingerprint').summary).toMatch(/matches the moment before the bad write/);
    expect(drill.recovery).toMatchObject({ target: 'xid', timeline: 2 });
    expect(await containersOfRun(journal.runId)).toEqual([]);
  });

  it('drills a base backup and archive made elsewhere, and a dump made elsewhere, into empty containers: replayed to a moment, restored, every page read', async () => {
    // The team's backups, made by a native server of the same major.
    const team = tempDir('docker-team');
    const native = await NativeEngine.create({ runId: 'dockerteam', record: () => undefined });
    let after40 = '';
    try {
      ({ after40 } = await makeTeamBaseBackup(native, team));
      const source = await native.startInstance('source', tempDir('docker-team-logs'));
      try {
        await withClient(() => source.connect('postgres'), (admin) => admin.query('create database ledger'));
        await withClient(() => source.connect('ledger'), (client) => client.query("create table accounts (id int primary key, name text); insert into accounts select g, 'account ' || g from generate_series(1, 20) g"));
        await source.runPgTool('pg_dump', ['--format=custom', `--file=${join(source.backupDir, 'ledger_20261121.dump')}`, '--dbname=ledger']);
        cpSync(join(source.backupDir, 'ledger_20261121.dump'), join(team, 'ledger_20261121.dump'));
      } finally {
        await source.destroy({ keepFiles: false });
      }
    } finally {
      await native.dispose();
    }
    const elsewhere = { dataset: undefined, workload: undefined, database: 'ledger', fault: { type: 'production-lost' }, targets: { rto: '15m', rpo: '24h' } };
    const physical = writeDrill(
      drills,
      onDocker({
        ...elsewhere,
        name: 'docker-existing-base-backup',
        backup: { method: 'existing-base-backup', path: join(team, 'base'), wal: join(team, 'wal') },
        recovery: { procedure: 'point-in-time', target: 'time', at: after40 },
        queries: [{ name: 'accounts', sql: 'select count(*) from accounts', expect: { equals: 40 } }],
      }),
    );
    const { journal } = await runDrills([physical], reports);
    const drill = journal.drills[0]!;
    expect(drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(drill.engine).toMatchObject({ kind: 'docker', image: IMAGE });
    expect(check(drill, 'page-checksums').summary).toMatch(/^pg_checksums --check: \d+ data pages read, every checksum right$/);
    expect(await containersOfRun(journal.runId)).toEqual([]);

    const logical = writeDrill(
      drills,
      onDocker({
        ...elsewhere,
        name: 'docker-existing-dump',
        backup: { method: 'existing', path: join(team, 'ledger_*.dump') },
        recovery: { procedure: 'restore-database', owners: false },
        queries: [{ name: 'accounts', sql: 'select count(*) from accounts', expect: { equals: 20 } }],
      }),
    );
    const restored = (await runDrills([logical], reports)).journal.drills[0]!;
    expect(restored.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(check(restored, 'dump-row-counts').summary).toMatch(/^every table holds the rows its dump holds: 1 tables, 20 rows/);
  });

  it('rebuilds a lost container from the base backup and the archive; a missing segment is named and its loss measured', async () => {
    const lost = writeDrill(
      drills,
      onDocker({ name: 'docker-lost', backup: { method: 'pg_basebackup', archiveTimeout: '1s' }, fault: { type: 'lose-instance' }, recovery: { procedure: 'point-in-time' } }),
    );
    const gap = writeDrill(
      drills,
      onDocker({
        name: 'docker-gap',
        backup: { method: 'pg_basebackup', archiveTimeout: '1s' },
        fault: { type: 'missing-wal', writeAfterGap: '2s' },
        recovery: { procedure: 'point-in-time' },
        targets: { rto: '1h', rpo: '0' },
      }),
    );
    const { journal } = await runDrills([lost, gap], reports);
    const [rebuilt, broken] = journal.drills;
    expect(rebuilt!.verdict).toBe('pass');
    expect(rebuilt!.rpo!.measuredMs).toBeLessThan(3000);
    expect(check(broken!, 'wal-archive').verdict).toBe('fail');
    expect(check(broken!, 'rpo').verdict).toBe('fail');
    expect(broken!.rpo!.lostRows).toBeGreaterThan(0);
    expect(await containersOfRun(journal.runId)).toEqual([]);
  });

  it('fills a size-limited data folder mid-write: the server’s errors recorded, space freed, nothing committed lost', async () => {
    const file = writeDrill(
      drills,
      onDocker({ name: 'docker-data-full', engine: { dataVolume: '96m' }, fault: { type: 'data-disk-full' }, recovery: { procedure: 'free-space' }, targets: { rto: '15m', rpo: '0' } }),
    );
    const { journal } = await runDrills([file], reports);
    const drill = journal.drills[0]!;
    expect((drill.fault as { serverSaid: string[] }).serverSaid.join('\n')).toMatch(/No space left on device/);
    expect(drill.rpo).toMatchObject({ lostRows: 0 });
    expect(drill.verdict).toBe('pass');
    expect(await containersOfRun(journal.runId)).toEqual([]);
  });

  it.each(['host', 'bridge'] as const)('fails over to a standby container streaming from the primary container, on the %s network', async (network) => {
    const file = writeDrill(
      drills,
      onDocker({ name: `docker-failover-${network}`, engine: { network }, backup: { method: 'standby' }, fault: { type: 'kill-server' }, recovery: { procedure: 'failover' }, targets: { rto: '15m', rpo: '5m' } }),
    );
    const { journal } = await runDrills([file], reports);
    const drill = journal.drills[0]!;
    expect(drill.engine).toMatchObject({ network, networkChosenBy: 'engine.network' });
    expect(drill.verdict).toBe('pass');
    expect((drill.backup as { detail: { replication: { state: string } } }).detail.replication.state).toBe('streaming');
    expect(drill.recovery).toMatchObject({ promoted: `docker-failover-${network}-standby` });
    expect(await containersOfRun(journal.runId)).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)('catches a corrupt page three ways in a container: its data folder is on the host, pg_checksums runs on the stopped cluster', async () => {
    const file = writeDrill(drills, onDocker({ name: 'docker-corrupt-page', fault: { type: 'corrupt-page', table: 'candles' }, recovery: { procedure: 'restore-table' } }));
    const { journal } = await runDrills([file], reports);
    const drill = journal.drills[0]!;
    const detected = check(drill, 'corruption-detected');
    expect(detected.verdict).toBe('pass');
    const detectors = detected.evidence.detectors as Record<string, { caught: boolean; said: string }>;
    expect(detectors['read']).toMatchObject({ caught: true, said: expect.stringMatching(/invalid page in block \d+/) });
    expect(detectors['pg_checksums --check']).toMatchObject({ caught: true, said: expect.stringMatching(/checksum verification failed in file .*, block \d+/) });
    expect(detectors['pg_amcheck']).toMatchObject({ caught: true, said: expect.stringMatching(/invalid page in block \d+|checksum/) });
    // The damage landed in the host folder the container uses as PGDATA; the stopped container could not exec,
    // so pg_checksums ran in a short-lived container of the same image on that folder.
    const fault = drill.phases.find((p) => p.name === 'fault')!.commands.map((c) => c.command);
    expect((drill.fault as { file: string }).file).toMatch(/\/data\/base\/\d+\/\d+$/);
    expect(fault.find((c) => c.includes('pg_checksums --check'))).toMatch(new RegExp(`^docker run --rm --network none --user postgres .*${IMAGE} pg_checksums --check`));
    expect(fault.find((c) => c.includes('pg_amcheck'))).toMatch(/^docker exec --user postgres [0-9a-f]{12} pg_amcheck /);
    expect(check(drill, 'fingerprint').verdict).toBe('pass');
    expect(drill.verdict).toBe('pass');
    expect(await containersOfRun(journal.runId)).toEqual([]);
    expect(tempFoldersOf(journal.runId)).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)('tonight’s dump inside the container fills a size-limited folder; the half-written file is rejected and last night’s restored', async () => {
    const file = writeDrill(
      drills,
      onDocker({ name: 'docker-backup-full', fault: { type: 'backup-disk-full' }, recovery: { procedure: 'restore-database' }, targets: { rto: '1h', rpo: '48h' } }),
    );
    const { journal } = await runDrills([file], reports);
    const drill = journal.drills[0]!;
    const fault = drill.fault as { error: string; partial: string; partialBytes: number };
    expect(fault.error).toMatch(/No space left on device/);
    expect(fault.partial).toMatch(/\/limited\/tonight\/market_\d{8}_\d{6}\.dump$/);
    expect(fault.partialBytes).toBeGreaterThan(0);
    // pg_dump ran inside the container, into the folder whose tmpfs was sized for it.
    const commands = drill.phases.find((p) => p.name === 'fault')!.commands.map((c) => c.command);
    expect(commands.find((c) => c.includes('pg_dump'))).toMatch(/^docker exec --user postgres [0-9a-f]{12} pg_dump --format=custom '?--file=.*\/limited\/tonight\//);
    const { used, reports: checked } = check(drill, 'backup-integrity').evidence as { used: string; reports: Array<{ path: string; ok: boolean; caughtBy?: string }> };
    expect(checked[0]).toMatchObject({ path: fault.partial, ok: false, caughtBy: 'sha256 sidecar' });
    expect(used).not.toBe(fault.partial);
    expect(used).toMatch(/\/backups\/market_\d{8}_\d{6}\.dump$/);
    expect(drill.verdict).toBe('pass');
    expect(readFileSync('/proc/self/mounts', 'utf8')).not.toContain(journal.runId);
    expect(await containersOfRun(journal.runId)).toEqual([]);
    expect(tempFoldersOf(journal.runId)).toEqual([]);
  });

  it('restores with pgBackRest to the restore point before a bad write, and rebuilds a lost container from its repository', async () => {
    const named = writeDrill(
      drills,
      onDocker({
        name: 'docker-pgbackrest-name',
        backup: { method: 'pgbackrest', archiveTimeout: '1s' },
        fault: { type: 'bad-write' },
        recovery: { procedure: 'point-in-time', target: 'name' },
        targets: { rto: '2h', rpo: '5m' },
      }),
    );
    const lost = writeDrill(
      drills,
      onDocker({
        name: 'docker-pgbackrest-lost',
        backup: { method: 'pgbackrest', archiveTimeout: '1s' },
        workload: { rate: 50, lead: '300ms', afterBackup: '2s' },
        fault: { type: 'lose-instance' },
        recovery: { procedure: 'point-in-time', target: 'end' },
      }),
    );
    const { journal } = await runDrills([named, lost], reports);
    const [pitr, rebuilt] = journal.drills;
    for (const drill of [pitr!, rebuilt!]) {
      const backup = drill.backup as { format: string; tool: string; files: Array<{ name: string }> };
      expect(backup.format).toBe('full + incr');
      expect(backup.tool).toMatch(/^pgBackRest 2\.\d+/);
      expect(backup.files[1]!.name).toMatch(/^\d{8}-\d{6}F_\d{8}-\d{6}I\/backup\.manifest$/);
      // pgBackRest ran inside the container, connecting over its own socket and port.
      const backupCommands = drill.phases.find((p) => p.name === 'backup')!.commands.map((c) => c.command);
      expect(backupCommands.find((c) => c.includes('backup --type=full'))).toMatch(/^docker exec --user postgres [0-9a-f]{12} pgbackrest .*--pg1-port=\d+ backup --type=full/);
      // The restore went into the new instance's host data folder from a short-lived container of the image.
      const restore = drill.phases.find((p) => p.name === 'recovery')!.commands.map((c) => c.command).find((c) => / restore( |$)/.test(c));
      // A long drill name shortens the folder with "~", which the recorded command line quotes.
      expect(restore).toMatch(new RegExp(`^docker run --rm --network none --user postgres .*${IMAGE} pgbackrest .*'?--pg1-path=\\S+/data'? restore`));
      expect(check(drill, 'backup-integrity').summary).toMatch(/passed pgbackrest verify/);
      expect(drill.verdict).toBe('pass');
    }
    // Named target: replay stopped at the restore point, and the restored server was promoted to a new timeline.
    expect(pitr!.rpo).toMatchObject({ lostRows: 0, pastTargetRows: 0 });
    expect(String(recoveryOf(pitr!)?.summary)).toMatch(/^pgbackrest restore --type=name --target=before_bad_write_\d+ --target-action=promote into a new data folder/);
    expect(pitr!.recovery).toMatchObject({ target: 'name', timeline: 2, stopReason: expect.stringMatching(/restore point/) });
    expect(check(pitr!, 'fingerprint').summary).toMatch(/matches the moment before the bad write/);
    // Lost container: the repository was verified from a container of the image, the old one being gone.
    const verify = rebuilt!.phases.find((p) => p.name === 'recovery')!.commands.map((c) => c.command).find((c) => c.endsWith(' verify'));
    expect(verify).toMatch(/^docker run --rm --network none --user postgres .* pgbackrest .* verify$/);
    expect(rebuilt!.rpo!.measuredMs).toBeLessThan(3000);
    expect(await containersOfRun(journal.runId)).toEqual([]);
    expect(tempFoldersOf(journal.runId)).toEqual([]);
  });

  it.runIf(otherMajor)(`flags pg_dump of another major than the server (host tools against ${OTHER_MAJOR_IMAGE})`, async () => {
    const file = writeDrill(drills, onDocker({ name: 'docker-mismatch', engine: { image: OTHER_MAJOR_IMAGE, tools: 'host' } }));
    const { journal } = await runDrills([file], reports);
    const drill = journal.drills[0]!;
    expect(drill.warnings?.join('\n')).toMatch(/pg_dump \(host\): pg_dump \(PostgreSQL\) 15\.\d+.* is major 15 but the server is PostgreSQL 17/);
    expect(drill.verdict).not.toBe('pass');
    expect(drill.phases.find((p) => p.name === 'backup')?.error).toMatch(/server version mismatch/);
    expect(renderMarkdown(journal)).toMatch(/⚠️ \*\*Warning:\*\* .*is major 15 but the server is PostgreSQL 17/);
  });

  it.runIf(otherMajor || REQUIRED)(`upgrade proof: the shipped drill restores a PostgreSQL 15 dump into ${OTHER_MAJOR_IMAGE}; a base backup is refused before replay`, async () => {
    expect(otherMajor).toBe(true);
    const upgraded = (await runDrills(['drills/docker/major-upgrade.yaml'], reports)).journal.drills[0]!;
    expect(upgraded.verdict).toBe('pass');
    expect(upgraded.engine!.server).toMatch(/^15\./);
    expect(recoveryOf(upgraded)).toMatchObject({ into: expect.stringMatching(/^PostgreSQL 17\./) });

    const file = writeDrill(
      drills,
      onDocker({
        name: 'docker-physical-upgrade',
        engine: { restoreImage: OTHER_MAJOR_IMAGE },
        backup: { method: 'pg_basebackup' },
        fault: { type: 'lose-instance' },
        recovery: { procedure: 'point-in-time' },
        targets: { rto: '1h', rpo: '1h' },
      }),
    );
    const refused = (await runDrills([file], reports)).journal.drills[0]!;
    expect(refused.verdict).toBe('fail');
    expect(recoveryOf(refused)?.error).toMatch(/the base backup is of PostgreSQL 15 and the restore target runs PostgreSQL 17: .*nothing was replayed/);
    // Nothing was unpacked into a new instance: the refusal came first.
    const recoveryCommands = refused.phases.find((p) => p.name === 'recovery')!.commands.map((c) => c.command);
    expect(recoveryCommands.some((c) => /tar -xzf/.test(c))).toBe(false);
  });

  it('reaches the Docker engine that DOCKER_HOST names, over TCP (a loopback port relayed to the engine here)', async () => {
    // A TCP listener on loopback that relays to this machine's engine: if the harness ignored DOCKER_HOST, nothing would come through it.
    let relayed = 0;
    const relay = createServer((socket) => {
      relayed++;
      const engine = connect('/var/run/docker.sock');
      socket.pipe(engine).pipe(socket);
      socket.on('error', () => engine.destroy());
      engine.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    try {
      const port = (relay.address() as AddressInfo).port;
      const dir = tempDir('docker-tcp');
      const reportsDir = tempDir('docker-tcp-reports');
      writeDrill(dir, onDocker({ name: 'docker-over-tcp' }));
      const result = await execa('node', [...CLI, 'run', dir, '--reports-dir', reportsDir], { reject: false, env: { DOCKER_HOST: `tcp://127.0.0.1:${port}` } });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(relayed).toBeGreaterThan(0);
    } finally {
      relay.close();
    }
  });

  it('on Ctrl-C removes its containers; after a killed harness the next start removes what it left', async () => {
    const dir = tempDir('docker-cli');
    const file = writeDrill(dir, onDocker({ name: 'docker-signals', workload: { rate: 50, lead: '30s', afterBackup: '1s' } }));
    const runUntilWorkload = async (reportsDir: string) => {
      const child = execa('node', [...CLI, 'run', file, '--reports-dir', reportsDir], { reject: false });
      await new Promise<void>((resolve) => {
        child.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('docker-signals: workload') && resolve());
      });
      const runId = readdirSync(reportsDir)[0]!;
      expect((await containersOfRun(runId)).length).toBe(1);
      return { child, runId };
    };

    const interrupted = await runUntilWorkload(tempDir('docker-sigint-reports'));
    interrupted.child.kill('SIGINT');
    expect((await interrupted.child).exitCode).toBe(130);
    expect(await containersOfRun(interrupted.runId)).toEqual([]);

    const reportsDir = tempDir('docker-sigkill-reports');
    const killed = await runUntilWorkload(reportsDir);
    killed.child.kill('SIGKILL');
    await killed.child;
    const journal = JSON.parse(readFileSync(join(reportsDir, killed.runId, 'journal.json'), 'utf8')) as RunJournal;
    expect(journal.status).toBe('running'); // The harness died mid-run; its container is still there.
    expect((await containersOfRun(killed.runId)).length).toBe(1);
    await removeContainerLeftovers(await getContainerRuntimeClient());
    expect(await containersOfRun(killed.runId)).toEqual([]);
  });

  // The socket is hidden in a private mount namespace: Docker is really absent for that process.
  it.runIf(process.getuid?.() === 0)('exits 2 with guidance when no Docker engine answers', async () => {
    const dir = tempDir('docker-down');
    const file = writeDrill(dir, onDocker({ name: 'docker-down' }));
    const hide = 'mount --bind /dev/null /var/run/docker.sock && exec "$@"';
    const result = await execa('unshare', ['--mount', 'sh', '-c', hide, 'sh', 'node', ...CLI, 'run', file, '--reports-dir', tempDir('docker-down-reports')], {
      reject: false,
      env: { DOCKER_HOST: '' },
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--engine docker needs a Docker engine, and none answered/);
  });
});

describe('local TimescaleDB images', () => {
  for (const version of TIMESCALEDB_VERSIONS) {
    const image = timescaleImage(version);
    const absent = timescaleMissing[version];
    // Absent here: skipped and why; absent where Docker is required (CI): a failure.
    it.skipIf(absent !== undefined && !REQUIRED)(
      `${image} starts through the engine with timescaledb ${version} preloaded and creatable${absent && !REQUIRED ? ` (skipped: ${absent})` : ''}`,
      async () => {
        expect(absent).toBeUndefined();
        const engine = await DockerEngine.create({ runId: `dockertsdb${version.replace(/\./g, '')}`, image });
        const instance = await engine.startInstance('tsdb', tempDir('docker-tsdb-logs'));
        try {
          // Preloaded by the image's own configuration: the engine passed no shared_preload_libraries.
          expect((await instance.serverInfo()).timescaledb).toBe(version);
          await withClient(() => instance.connect(), (admin) => admin.query('create database tsdb'));
          const found = await withClient(
            () => instance.connect('tsdb'),
            async (client) => {
              const preload = (await client.query<{ s: string }>("select current_setting('shared_preload_libraries') as s")).rows[0]!.s;
              await client.query('create extension timescaledb');
              const extversion = (await client.query<{ v: string }>("select extversion as v from pg_extension where extname = 'timescaledb'")).rows[0]!.v;
              // The library's own functions run: a hypertable, a row, its chunk.
              await client.query('create table ticks (at timestamptz not null, price numeric)');
              await client.query("select create_hypertable('ticks', by_range('at'))");
              await client.query("insert into ticks values (now(), 1.5)");
              const chunks = (await client.query<{ n: number }>("select count(*)::int as n from timescaledb_information.chunks where hypertable_name = 'ticks'")).rows[0]!.n;
              return { preload, extversion, chunks };
            },
          );
          expect(found).toEqual({ preload: 'timescaledb', extversion: version, chunks: 1 });
        } finally {
          await instance.destroy({ keepFiles: false });
          await engine.dispose();
        }
      },
    );
  }
});

describe('TimescaleDB in containers', () => {
  const image = timescaleImage('2.28.3');
  const absent = timescaleMissing['2.28.3'];
  it.skipIf(absent !== undefined && !REQUIRED)(
    `every shipped drill passes in ${image}, none unsupported, with the timescaledb check${absent && !REQUIRED ? ` (skipped: ${absent})` : ''}`,
    async () => {
      expect(absent).toBeUndefined();
      const { journal } = await runDrills(['drills'], tempDir('docker-tsdb-reports'), { engine: 'docker', image, jobs: 2 });
      for (const drill of journal.drills) {
        const failing = drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`);
        expect({ drill: drill.name, status: drill.status, verdict: drill.verdict, failing }).toEqual({ drill: drill.name, status: 'completed', verdict: 'pass', failing: [] });
        expect(check(drill, 'timescaledb').summary).toMatch(/^TimescaleDB 2\.28\.3/);
      }
      expect(journal.drills.length).toBeGreaterThanOrEqual(15);
      // The whole system's Redis follows the drill's engine: a container too, removed with the run's.
      const redis = journal.drills.find((d) => d.name === 'whole-system')!.parts!.find((p) => p.kind === 'redis')!;
      expect(redis.backups[0]!.detail).toMatchObject({ server: expect.stringContaining('container of') });
      expect(await containersOfRun(journal.runId)).toEqual([]);
    },
    1_200_000,
  );
});
