/**
 * One drill, top to bottom, as its phases:
 *   setup → seed → workload → baseline → backup → writes after backup → fault → recovery → verify → teardown
 * Each phase calls the module that knows how (the backup method, the fault,
 * the procedure, the checks) and records what it did in the journal. Only
 * checks/ makes verdicts; the outcome rules are in model/outcome.ts.
 */
import { backupMethod } from '../backup/index.js';
import { runContentChecks } from '../checks/content.js';
import { judge } from '../checks/observed.js';
import { captureState, stateKey } from '../checks/snapshot.js';
import { compareWithSource } from '../checks/source-fingerprint.js';
import { measureLoss, rpoCheck, rtoCheck } from '../checks/targets.js';
import { judgeCommand, judgeQuery, type QueryValue } from '../checks/team.js';
import { judgeRollback } from '../checks/rollback.js';
import { timescaleCheck, type TimescaleExpectations } from '../checks/timescaledb.js';
import { DATASET_TABLES } from '../dataset/schema.js';
import { scaleOf } from '../dataset/scale.js';
import { seededRange, seedDataset } from '../dataset/seed.js';
import type { CapabilityName, Instance, InstanceOptions } from '../engines/types.js';
import { InputError, SetupError, UnsupportedError } from '../errors.js';
import { faultModule } from '../faults/index.js';
import type { FaultOutcome } from '../faults/fault.js';
import type { BackupArtifact } from '../model/artifact.js';
import type { DrillJournal, FaultRecord } from '../model/journal.js';
import { statusAfterVerify } from '../model/outcome.js';
import type { DatabaseState } from '../model/snapshot.js';
import { combine, type CheckResult } from '../model/verdict.js';
import { quoteIdent, withClient } from '../pg/client.js';
import { settingsReplayNeeds } from '../pg/conf.js';
import { installedVersion } from '../pg/timescaledb.js';
import { majorOf } from '../pg/versions.js';
import { procedureModule } from '../recovery/index.js';
import { now, sleep, type Instant } from '../support/clock.js';
import { folderBytes } from '../support/files.js';
import { formatBytes } from '../support/units.js';
import { LedgerWorkload, readLedger } from '../workload/ledger.js';
import { SystemParts } from './parts.js';
import { dataDirOf, rollBack, setAside } from './rollback.js';
import { checkRoom } from './room.js';
import { runCommands, runQueries, unplannable } from './team-checks.js';
import { seedIdentity } from './seed-cache.js';
import { beginDrill, endDrill, recordStop, recover, type DrillHost } from './frame.js';
import type { DrillSpec, LoadedDrill } from './spec.js';

/** Writes between backup generations, so an older backup really is older (names carry the second). */
const GENERATION_GAP_MS = 1500;

/** The engine capabilities the drill's modules need, in the order they are checked. */
function requiredCapabilities(spec: DrillSpec): CapabilityName[] {
  const needs = new Set<CapabilityName>([
    ...(faultModule(spec.fault.type).requires?.capabilities ?? []),
    ...(backupMethod(spec.backup.method).requires ?? []),
    ...(procedureModule(spec.recovery.procedure).requires?.capabilities ?? []),
  ]);
  if (spec.engine.dataVolume) needs.add('sizeLimitedVolume');
  return [...needs];
}

export async function runDrill(host: DrillHost, loaded: LoadedDrill): Promise<void> {
  const { spec } = loaded;
  const frame = await beginDrill(host, loaded);
  const { drill, phases, found, instances, scriptEnv } = frame;
  const parts = new SystemParts(drill);
  frame.disposals.push((keep) => parts.dispose(keep));
  const db = spec.database;
  // Orders and trades get the workload's rows after the seed: the content checks compare the seeded ones, RPO counts the rest.
  const seeded = seededRange(spec.dataset.scale);
  const method = backupMethod(spec.backup.method);
  let workload: LedgerWorkload | undefined;
  let faultAt: Instant | undefined;
  let heal: (() => Promise<void>) | undefined;

  try {
    const { engine, primary, standby, cached } = await phases.run('setup', async (phase, progress) => {
      const engine = await host.engine();
      drill.engine = engine.describe();
      const needs = requiredCapabilities(spec);
      const options: InstanceOptions = {
        dataVolumeBytes: spec.engine.dataVolume,
        // Engines whose mounts are fixed once the server runs prepare for it at the start.
        ...(needs.includes('sizeLimitedFolder') ? { sizeLimitedFolders: true } : {}),
        ...method.instanceOptions?.(spec.backup),
      };
      const capabilities = engine.capabilities(options);
      for (const name of needs) {
        const capability = capabilities[name];
        if (!capability.supported) {
          throw new UnsupportedError(`${spec.fault.type} / ${spec.recovery.procedure} needs ${name} on the ${engine.kind} engine: ${capability.why}`);
        }
      }
      await checkRoom(spec.dataset.scale);
      // Seeded once per dataset, day and binaries, then copied for each drill (where the engine keeps a cache).
      const identity = await seedIdentity(engine, spec.dataset, db);
      const cached = await engine.seededCluster?.(
        identity.key,
        identity.day,
        host.logDir,
        async (builder): Promise<CachedSeedFacts> => {
          progress.report('seeding once into the seed cache');
          const facts = await seedInto(builder, db, spec, (note) => progress.report(`seeding the cache: ${note}`));
          // The seeded rows' fingerprints, read once with the entry (see the baseline).
          const state = await captureState((d) => builder.connect(d), db, DATASET_TABLES, 'the seed', seeded);
          if (state.unreachable) throw new SetupError('SERVER_START_FAILED', `cannot read the seeded database: ${state.unreachable}`);
          return { ...facts, tables: state.tables };
        },
        options,
      );
      const primary = await engine.startInstance(spec.name, host.logDir, { ...options, ...(cached ? { cluster: cached.dataDir } : {}) });
      instances.push(primary);
      if (spec.rollback) dataDirOf(primary);
      // Asked at once: the versions are each a process start, the server a connection.
      const names = method.tools(spec.backup);
      const [info, versions] = await Promise.all([primary.serverInfo(), Promise.all(names.map((tool) => primary.toolVersion(tool)))]);
      const tools: Record<string, string> = {};
      for (const [i, tool] of names.entries()) {
        const version = (tools[tool] = versions[i]!);
        const major = majorOf(version);
        // An older pg_dump against a newer server is the silent failure these drills exist to catch.
        if (major !== info.major) (drill.warnings ??= []).push(`${version} is major ${major ?? 'unknown'} but the server is PostgreSQL ${info.major}`);
      }
      drill.engine = { ...drill.engine, server: info.version, major: info.major, timescaledb: info.timescaledb, tools };
      const standby = await method.startReplica?.({ primary, start: (o) => engine.startInstance(`${spec.name}-standby`, host.logDir, o) });
      if (standby) instances.push(standby);
      await parts.start(spec.parts, { runId: host.runId, engine: engine.kind, logDir: host.logDir, seed: spec.dataset.seed, commands: { record: (command) => phases.record(command) } });
      phase.detail = {
        port: primary.connection.port,
        database: db,
        ...(spec.engine.dataVolume ? { dataVolumeBytes: spec.engine.dataVolume } : {}),
        ...(cached ? { seedCache: cached.builtNow ? 'built' : 'copied' } : {}),
      };
      return { engine, primary, standby, cached };
    });

    await phases.run('seed', async (phase, progress) => {
      const { rows, layout, timescaledb } = cached ? (cached.facts as CachedSeedFacts) : await seedInto(primary, db, spec, (note) => progress.report(note));
      drill.dataset = {
        scale: String(spec.dataset.scale),
        seed: spec.dataset.seed,
        rows,
        layout,
        ...(timescaledb ? { timescaledb } : {}),
        ...(cached ? { cache: { key: cached.key, builtAt: cached.builtAt, builtNow: cached.builtNow } } : {}),
      };
      if (cached) phase.detail = { fromCache: cached.dataDir };
      // What only the server can tell about the drill file, before any backup is taken.
      const problems = await withClient(
        () => primary.connect(db),
        async (client) => {
          const faultProblem = await faultModule(spec.fault.type).check?.(client, spec.fault);
          return [...(faultProblem ? [`fault.${faultProblem}`] : []), ...(await unplannable(client, spec.queries))];
        },
      );
      if (problems.length) throw new InputError('DRILL_FILE_INVALID', problems.map((problem) => `${loaded.file}: ${problem}`).join('\n'));
      await parts.seed();
    });

    workload = await phases.run('workload', async (phase) => {
      const writer = new LedgerWorkload(() => primary.connect(db), spec.workload.rate, { run: host.runId, drill: spec.name }, scaleOf(spec.dataset.scale));
      await writer.start();
      await parts.startWrites();
      await sleep(spec.workload.lead);
      phase.detail = { ratePerSecond: spec.workload.rate, writers: writer.writers, leadMs: spec.workload.lead, committedBeforeBackup: writer.commits.length };
      return writer;
    });
    const writer = workload;

    const baseline = await phases.run('baseline', async (phase) => {
      // From the cache, the seeded rows' fingerprints are the entry's, read when it was built: nothing writes a seeded row
      // before the backup (the workload only adds rows past the seeded ranges, the fault strikes later), and a copy that
      // differed would restore as it is and fail against them, never pass. The catalog and sequences are read here.
      const fromCache = cached ? (cached.facts as CachedSeedFacts).tables : undefined;
      const state = await captureState((d) => primary.connect(d), db, fromCache ? [] : DATASET_TABLES, 'the backup', seeded);
      if (fromCache) state.tables = fromCache;
      if (state.unreachable) throw new SetupError('SERVER_START_FAILED', `cannot read the seeded database: ${state.unreachable}`);
      const sizeBytes = await withClient(() => primary.connect(db), async (client) => Number((await client.query<{ n: string }>('select pg_database_size(current_database()) as n')).rows[0]!.n));
      if (drill.dataset) drill.dataset.sizeBytes = sizeBytes;
      // The team's queries that compare with the backup get their value here.
      const atBackup = await runQueries(() => primary.connect(db), spec.queries.filter((q) => 'sameAsBackup' in q.expect));
      phase.detail = { tables: state.tables, sizeBytes, ...(fromCache ? { tablesReadWith: 'the seed cache entry' } : {}), ...(atBackup.size ? { queries: Object.fromEntries(atBackup) } : {}) };
      return { state, atBackup };
    });

    const backups = await phases.run('backup', async (phase, progress) => {
      progress.watch(async () => `${formatBytes(await folderBytes(primary.backupDir))} in ${primary.backupDir}`);
      const taken: BackupArtifact[] = [];
      for (let generation = 1; generation <= ('generations' in spec.backup ? spec.backup.generations : 1); generation++) {
        if (generation > 1) await sleep(GENERATION_GAP_MS);
        taken.push(...(await method.take({ primary, standby, database: db, scriptEnv: () => scriptEnv(primary) }, spec.backup)));
      }
      // A restore must start from what the backup was taken with: the TimescaleDB version, and for a physical backup the major.
      const timescale = await withClient(() => primary.connect(db), installedVersion);
      const { major } = await primary.serverInfo();
      const replaySettings = await withClient(() => primary.connect(db), settingsReplayNeeds);
      for (const artifact of taken) {
        artifact.serverMajor = major;
        if (method.family === 'physical') artifact.replaySettings = replaySettings;
        if (timescale) artifact.timescaledb = timescale;
      }
      const newest = taken.at(-1)!;
      drill.backup = newest;
      if (taken.length > 1) drill.backups = taken.map((b) => ({ path: b.path, sizeBytes: b.sizeBytes, sha256: b.sha256 }));
      await parts.backup();
      phase.detail = { generations: taken.length };
      return taken;
    });

    await phases.run('writes-after-backup', async (phase) => {
      await sleep(spec.workload.afterBackup);
      phase.detail = { durationMs: spec.workload.afterBackup, committedSoFar: writer.commits.length };
    });

    const fault: FaultOutcome<unknown> = await phases.run('fault', async () => {
      // The workload writes through the fault, as the application would, and a little after it.
      const outcome = await faultModule(spec.fault.type).inject(
        {
          instance: primary,
          database: db,
          workload: writer,
          backups,
          seed: spec.dataset.seed,
          capture: () => captureState((d) => primary.connect(d), db, DATASET_TABLES, 'the moment before the bad write', seeded),
        },
        spec.fault,
      );
      faultAt = outcome.at;
      heal = outcome.heal;
      for (const observation of outcome.observations ?? []) found(judge(observation));
      // The disaster takes the rest of the system with the database.
      await parts.strike();
      await sleep(spec.workload.afterFault);
      const summary = await writer.stop();
      await parts.stopWrites();
      if (summary.behind) (drill.warnings ??= []).push(`workload: ${summary.behind}`);
      drill.fault = { type: spec.fault.type, summary: outcome.summary, at: outcome.at.wall, ...(outcome.detail as object), workload: summary } as FaultRecord;
      return outcome;
    });

    // The runbook copies the data folder aside before it restores, so a failed restore can be undone.
    const aside = spec.rollback
      ? await phases.run('set-aside', async (phase) => {
          const set = await setAside(primary);
          phase.detail = { copy: set.copy, databases: 'unreachable' in set.before ? set.before.unreachable : Object.keys(set.before) };
          return set;
        })
      : undefined;

    const recovery = await recover(host, frame, spec.recovery, {
      engine,
      instance: primary,
      standby,
      drillName: spec.name,
      database: db,
      rtoTargetMs: spec.targets.rto,
      backups: [...backups, ...(fault.addedBackups ?? [])],
      fault: { marker: fault.marker, debris: fault.debris },
      scriptEnv: () => scriptEnv(primary),
    });
    const recovered = recovery.instance;
    const recoveryFailedToo = !recovery.outcome;

    await phases.run('verify', (phase) =>
      verify({
        drill,
        instance: recovered,
        spec,
        expected: fault.expected ?? baseline.state,
        queriesAtBackup: baseline.atBackup,
        workload: writer,
        fault,
        phase,
        timescale: { version: recovery.outcome?.timescaleVersion, recoveredAt: drill.phases.find((p) => p.name === 'recovery')?.endedAt },
        runId: host.runId,
        atMarker: recovery.outcome?.atMarker ?? false,
        restoredFrom: recovery.outcome?.restoredFrom,
        withoutOwners: recovery.outcome?.withoutOwners ?? false,
        onlyTable: recovery.outcome?.onlyTable,
        found,
        scriptEnv,
      }),
    );
    // A recovery that failed its checks is rolled back (a target missed by time alone is not: the data is good).
    const failed = drill.checks.filter((c) => c.verdict === 'fail' && c.name !== 'rto' && c.name !== 'rpo').map((c) => c.name);
    if (aside && failed.length && !host.interrupted()) {
      await phases.run('rollback', async (phase) => {
        if (recovered !== primary) await recovered.stop();
        const after = await rollBack(primary, aside);
        found(judgeRollback(aside.before, after, `${failed.join(', ')} failed`));
        phase.detail = { from: aside.copy };
      });
    }
    if (parts.any) {
      const system = spec.targets.system ?? { rto: spec.targets.rto, rpo: spec.targets.rpo };
      await phases.run('parts', () => parts.recover(fault.at, system, found));
    }
    if (host.interrupted()) return;
    drill.status = statusAfterVerify(recoveryFailedToo);
  } catch (error) {
    if (!host.interrupted()) recordStop(frame, error, faultAt !== undefined);
  } finally {
    if (workload) await workload.stop();
    await endDrill(host, frame, heal);
  }
}

/** What a seed reports of itself; a cached cluster keeps it beside its data. */
type SeedFacts = { rows: Record<string, number>; layout: string; timescaledb?: string };
/** A cache entry's facts also hold its seeded tables' states (an entry built before they did reads them at the baseline). */
type CachedSeedFacts = Omit<SeedFacts, 'tables'> & { tables?: DatabaseState['tables'] };

/** Creates the drill's database on the instance and seeds it; TimescaleDB where the server preloads it. */
async function seedInto(instance: Instance, db: string, spec: DrillSpec, progress: (note: string) => void): Promise<SeedFacts> {
  const timescale = (await instance.serverInfo()).timescaledb != null;
  await withClient(() => instance.connect('postgres'), (admin) => admin.query(`create database ${quoteIdent(db)}`));
  return withClient(
    () => instance.connect(db),
    async (client) => {
      const result = await seedDataset(client, { scale: spec.dataset.scale, seed: spec.dataset.seed, timescale, progress });
      const timescaledb = await installedVersion(client);
      return { rows: result.rows, layout: result.layout, ...(timescaledb ? { timescaledb } : {}) };
    },
  );
}

interface Verification {
  drill: DrillJournal;
  /** The instance that holds the recovered data. */
  instance: Instance;
  spec: DrillSpec;
  /** The state a correct recovery brings back. */
  expected: DatabaseState;
  /** The team's queries' values at the backup, for those that compare with it. */
  queriesAtBackup: Map<string, { value: QueryValue } | { error: string }>;
  workload: LedgerWorkload;
  fault: FaultOutcome<unknown>;
  phase: { detail?: Record<string, unknown> };
  timescale: TimescaleExpectations;
  runId: string;
  /** The recovery stopped at the fault's recovery target: rows written after it must be absent. */
  atMarker: boolean;
  /** The backup the recovery restored from, when it says. */
  restoredFrom: BackupArtifact | undefined;
  /** It was restored without its owners and grants (restore-database owners: false). */
  withoutOwners: boolean;
  /** The one table it restored alone (restore-table): compared with the backup's sidecar by itself. */
  onlyTable: { schema: string; name: string } | undefined;
  found: (...checks: CheckResult[]) => void;
  /** The environment a team's command gets for an instance: its connection, the run, the client binaries on PATH. */
  scriptEnv: (instance: Instance) => Promise<Record<string, string>>;
}

/** The recovered database against the state a correct recovery brings back, and RTO and RPO against the targets. */
async function verify({ drill, instance, spec, expected, queriesAtBackup, workload, fault, phase, timescale, runId, atMarker, restoredFrom, withoutOwners, onlyTable, found, scriptEnv }: Verification): Promise<void> {
  const recovered = await captureState((d) => instance.connect(d), spec.database, DATASET_TABLES, 'after recovery', seededRange(spec.dataset.scale));
  const content = runContentChecks(spec.checks, expected, recovered);
  const timescaleResult = await timescaleCheck((d) => instance.connect(d), expected, recovered, timescale);
  if (timescaleResult) content.push(timescaleResult);
  // A backup that came with the source's fingerprint: the restore must equal the source at that moment, every table and row.
  if (restoredFrom?.fingerprint) content.push(await compareWithSource(() => instance.connect(spec.database), spec.database, restoredFrom.fingerprint, withoutOwners, onlyTable && stateKey(onlyTable)));
  // The team's own verification is part of the verification RTO waits for.
  const queried = await runQueries(() => instance.connect(spec.database), spec.queries);
  for (const query of spec.queries) content.push(judgeQuery(query, queried.get(query.name)!, queriesAtBackup.get(query.name)));
  const smoked = await runCommands(instance, spec.commands, await scriptEnv(instance));
  for (const command of spec.commands) content.push(judgeCommand(command, smoked.get(command.name)!));
  const verifiedAt = now();
  const ledger = await readLedger(() => instance.connect(spec.database), { run: runId, drill: spec.name }, workload.commits);
  // Rows written after the recovery target must be absent only when the recovery stopped there.
  const loss = 'error' in ledger ? ledger : measureLoss(workload.commits, ledger, fault.at, atMarker ? fault.marker?.firstSeqAfter : undefined);
  const rto = rtoCheck(spec.targets.rto, fault.at, verifiedAt, combine(content.map((c) => c.verdict)));
  const rpo = rpoCheck(spec.targets.rpo, loss);
  found(...content, rto.check, rpo.check);
  if (drill.checks.includes(rpo.check)) {
    drill.rto = rto.rto;
    drill.rpo = rpo.rpo;
  }
  phase.detail = { instance: instance.name, database: spec.database };
}
