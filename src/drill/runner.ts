/**
 * Walks each drill through its phases:
 *   setup → seed → workload → baseline → backup → writes after backup → fault → recovery → verify
 * and records everything in the journal. Drills run one after another: their
 * timings are measurements and must not compete for the machine's two cores.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { now, sleep, type Instant } from '../clock.js';
import { baseBackup } from '../backup/basebackup.js';
import { dump } from '../backup/pg-dump.js';
import { scriptBackup, scriptEnvironment } from '../backup/script.js';
import { standbyCaughtUp, startStandby } from '../backup/standby.js';
import { configure as configurePgbackrest, pgbackrestBackup } from '../backup/pgbackrest.js';
import type { BackupArtifact } from '../backup/artifact.js';
import { runContentChecks } from '../checks/content.js';
import { captureState, type DatabaseState } from '../checks/state.js';
import { measureLoss, rpoCheck, rtoCheck } from '../checks/targets.js';
import { combine } from '../checks/verdict.js';
import { logErrorsAfter } from '../checks/log-errors.js';
import { DATASET_TABLES, LEDGER_TABLE } from '../dataset/schema.js';
import { seedDataset } from '../dataset/seed.js';
import { DockerEngine } from '../engines/docker.js';
import { majorOf, type Capabilities, type Engine, type InstanceOptions } from '../engines/engine.js';
import { defaultImage } from '../engines/images.js';
import type { Instance, PgTool } from '../engines/instance.js';
import { NativeEngine } from '../engines/native.js';
import { errorMessage, RestoreDrillError, SetupError, UnsupportedError } from '../errors.js';
import type { CommandContext } from '../exec/command.js';
import { injectFault, type FaultResult } from '../faults/inject.js';
import { recover } from '../recovery/procedures.js';
import { LedgerWorkload } from '../workload/ledger.js';
import type { RunListener } from './events.js';
import { journalFile } from './journal-file.js';
import type { DrillJournal, PhaseJournal, RunJournal } from './journal.js';
import type { LoadedDrill } from './spec.js';
import { VERSION } from '../version.js';

export interface RunOptions {
  /** Parent folder of the run's report folder. */
  reportsDir: string;
  /** Keep every instance's files, not only a failed drill's. */
  keep: boolean;
  binDir?: string;
  /** Overrides every drill's engine.kind (the --engine flag). */
  engine?: 'native' | 'docker';
  /** Overrides every drill's engine.image (the --image flag). */
  image?: string;
  listeners: RunListener[];
}

/** The engine a drill runs on: the flags first, then the drill file, then the defaults. */
export function engineChoice(spec: LoadedDrill['spec'], options: Pick<RunOptions, 'engine' | 'image'>) {
  const kind = options.engine ?? spec.engine.kind;
  return {
    kind,
    image: kind === 'docker' ? (options.image ?? spec.engine.image ?? defaultImage()) : undefined,
    tools: kind === 'docker' ? spec.engine.tools : undefined,
  };
}

const GENERATION_GAP_MS = 1500;

export function newRunId(at = new Date()): string {
  return `${at.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(2).toString('hex')}`;
}

export class DrillRun {
  readonly journal: RunJournal;
  readonly dir: string;
  private interrupted = false;
  private current?: { drill: DrillJournal; phase?: PhaseJournal };
  private readonly ctx: CommandContext;
  /** The journal file first: whatever else listens, the run is on disk. */
  private readonly listeners: RunListener[];
  private readonly engines = new Map<string, Promise<Engine>>();

  constructor(
    private readonly drills: readonly LoadedDrill[],
    private readonly options: RunOptions,
  ) {
    const runId = newRunId();
    this.dir = join(options.reportsDir, runId);
    this.journal = {
      tool: 'restore-drill',
      version: VERSION,
      runId,
      status: 'running',
      startedAt: new Date().toISOString(),
      host: { hostname: hostname(), platform: `${process.platform}-${process.arch}`, node: process.version, pid: process.pid },
      options: { keep: options.keep, binDir: options.binDir ?? null, drills: drills.map((d) => d.file) },
      drills: [],
    };
    this.listeners = [journalFile(this.dir), ...options.listeners];
    this.ctx = {
      record: (command) => {
        if (this.interrupted || !this.current) return;
        this.current.phase?.commands.push(command);
        this.emit((l) => l.commandRan?.(this.journal, this.current!.drill, command));
      },
    };
  }

  private emit(call: (listener: RunListener) => void): void {
    for (const listener of this.listeners) call(listener);
  }

  /** Marks the run and its running drill interrupted (Ctrl-C); the journal says so, not nothing. */
  interrupt(): void {
    if (this.interrupted) return;
    const at = new Date().toISOString();
    for (const drill of this.journal.drills.filter((d) => d.status === 'running')) {
      for (const phase of drill.phases.filter((p) => p.status === 'running')) {
        Object.assign(phase, { status: 'failed', endedAt: at, error: 'interrupted' });
      }
      Object.assign(drill, { status: 'interrupted', endedAt: at, verdict: 'unknown' });
      this.emit((l) => l.drillEnded?.(this.journal, drill));
    }
    this.journal.status = 'interrupted';
    this.journal.endedAt = at;
    this.emit((l) => l.runEnded?.(this.journal));
    this.interrupted = true;
  }

  async run(): Promise<RunJournal> {
    this.emit((l) => l.runStarted?.(this.journal));
    try {
      for (const drill of this.drills) {
        if (this.interrupted) break;
        await this.runDrill(drill);
      }
      if (!this.interrupted) this.journal.status = 'completed';
    } catch (error) {
      // A drill's own failures are findings recorded in its journal; reaching here is a
      // harness bug. The journal says so before the error goes on to the user.
      this.journal.status = 'aborted';
      this.journal.error = errorMessage(error);
      throw error;
    } finally {
      for (const engine of this.engines.values()) await (await engine.catch(() => undefined))?.dispose();
      if (!this.interrupted) {
        this.journal.endedAt = new Date().toISOString();
        this.emit((l) => l.runEnded?.(this.journal));
      }
    }
    return this.journal;
  }

  /** One engine per kind and image for the whole run, made when a drill first needs it. */
  private engine(spec: LoadedDrill['spec']): Promise<Engine> {
    const choice = engineChoice(spec, this.options);
    const key = JSON.stringify(choice);
    let engine = this.engines.get(key);
    if (!engine) {
      engine =
        choice.kind === 'docker'
          ? DockerEngine.create({ runId: this.journal.runId, ctx: this.ctx, image: choice.image!, tools: choice.tools })
          : NativeEngine.create({ runId: this.journal.runId, ctx: this.ctx, binDir: this.options.binDir });
      this.engines.set(key, engine);
    }
    return engine;
  }

  private async phase<T>(drill: DrillJournal, name: string, work: (phase: PhaseJournal) => Promise<T>): Promise<T> {
    const phase: PhaseJournal = { name, status: 'running', startedAt: new Date().toISOString(), commands: [] };
    drill.phases.push(phase);
    this.current = { drill, phase };
    this.emit((l) => l.phaseStarted?.(this.journal, drill, phase));
    const started = performance.now();
    try {
      const result = await work(phase);
      phase.status = 'ok';
      return result;
    } catch (error) {
      // After Ctrl-C the cleanup breaks connections under running phases; the journal already says why.
      if (!this.interrupted) {
        phase.status = 'failed';
        phase.error = errorMessage(error);
      }
      throw error;
    } finally {
      if (!this.interrupted) {
        phase.endedAt = new Date().toISOString();
        phase.durationMs = performance.now() - started;
        this.emit((l) => l.phaseEnded?.(this.journal, drill, phase));
      }
    }
  }

  private async runDrill({ file, spec }: LoadedDrill): Promise<void> {
    const drill: DrillJournal = {
      name: spec.name,
      file,
      ...(spec.description ? { description: spec.description } : {}),
      status: 'running',
      startedAt: new Date().toISOString(),
      phases: [],
      checks: [],
    };
    this.journal.drills.push(drill);
    this.current = { drill };
    this.emit((l) => l.drillStarted?.(this.journal, drill));
    const started = performance.now();
    const db = spec.database;
    /** Every instance the drill started (the struck one, a restored one), all torn down at the end. */
    const instances: Instance[] = [];
    let workload: LedgerWorkload | undefined;
    let standby: Instance | undefined;
    let faultAt: Instant | undefined;
    let heal: (() => Promise<void>) | undefined;
    let recoveryFailed = false;
    try {
      const live = await this.phase(drill, 'setup', async (phase) => {
        const engine = await this.engine(spec);
        drill.engine = engine.describe();
        const archived = spec.backup.method === 'pg_basebackup' || spec.backup.method === 'pgbackrest';
        const options: InstanceOptions = {
          dataVolumeBytes: spec.engine.dataVolume,
          ...(archived
            ? { walArchive: { timeoutMs: spec.backup.archiveTimeout, ...(spec.backup.method === 'pgbackrest' ? { command: configurePgbackrest } : {}) } }
            : {}),
        };
        const capabilities = engine.capabilities(options);
        for (const name of requiredCapabilities(spec)) {
          const capability = capabilities[name];
          if (!capability.supported) {
            throw new UnsupportedError(`${spec.fault.type} / ${spec.recovery.procedure} needs ${name} on the ${engine.kind} engine: ${capability.why}`);
          }
        }
        const started = await engine.startInstance(spec.name, this.logDir(spec), options);
        instances.push(started);
        const info = await started.serverInfo();
        const tools: Record<string, string> = {};
        for (const tool of backupTools(spec)) {
          tools[tool] = await started.toolVersion(tool);
          const major = majorOf(tools[tool]);
          // An older pg_dump against a newer server is the silent failure these drills exist to catch.
          if (major !== info.major) {
            (drill.warnings ??= []).push(`${tools[tool]} is major ${major ?? 'unknown'} but the server is PostgreSQL ${info.major}`);
          }
        }
        drill.engine = { ...drill.engine, server: info.version, major: info.major, timescaledb: info.timescaledb, tools };
        const admin = await started.connect('postgres');
        await admin.query(`create database ${db}`).finally(() => admin.end());
        if (spec.backup.method === 'standby') {
          standby = await startStandby(engine, started, `${spec.name}-standby`, this.logDir(spec));
          instances.push(standby);
        }
        phase.detail = { port: started.connection.port, database: db, ...(spec.engine.dataVolume ? { dataVolumeBytes: spec.engine.dataVolume } : {}) };
        return started;
      });

      await this.phase(drill, 'seed', async (phase) => {
        const client = await live.connect(db);
        try {
          const result = await seedDataset(client, {
            scale: spec.dataset.scale,
            seed: spec.dataset.seed,
            timescale: drill.engine?.timescaledb != null,
          });
          drill.dataset = {
            scale: spec.dataset.scale,
            seed: spec.dataset.seed,
            rows: result.rows,
            layout: result.timescale ? 'TimescaleDB hypertable (candles) + continuous aggregate (candles_1h)' : 'plain PostgreSQL tables (TimescaleDB not available)',
          };
          phase.detail = { ...drill.dataset };
        } finally {
          await client.end();
        }
      });

      workload = await this.phase(drill, 'workload', async (phase) => {
        const started = new LedgerWorkload(await live.connect(db), spec.workload.rate);
        started.start();
        await sleep(spec.workload.lead);
        phase.detail = { ratePerSecond: spec.workload.rate, leadMs: spec.workload.lead, committedBeforeBackup: started.commits.length };
        return started;
      });

      const baseline = await this.phase(drill, 'baseline', async (phase) => {
        const state = await captureState((d) => live.connect(d), db, DATASET_TABLES, 'the backup');
        if (state.unreachable) throw new Error(`cannot read the seeded database: ${state.unreachable}`);
        phase.detail = { tables: state.tables };
        return state;
      });

      const backups = await this.phase(drill, 'backup', async (phase) => {
        const taken: BackupArtifact[] = [];
        for (let generation = 1; generation <= spec.backup.generations; generation++) {
          // Writes between generations, so an older backup really is older (names carry the second).
          if (generation > 1) await sleep(GENERATION_GAP_MS);
          taken.push(...(await takeBackup(spec, live, standby, await this.scriptEnv(spec, live))));
        }
        const newest = taken.at(-1)!;
        drill.backup = { ...newest };
        if (taken.length > 1) drill.backups = taken.map((b) => ({ path: b.path, sizeBytes: b.sizeBytes, sha256: b.sha256 }));
        phase.detail = { generations: taken.length, path: newest.path, sizeBytes: newest.sizeBytes, sha256: newest.sha256, ...newest.detail };
        return taken;
      });

      await this.phase(drill, 'writes-after-backup', async (phase) => {
        await sleep(spec.workload.afterBackup);
        phase.detail = { durationMs: spec.workload.afterBackup, committedSoFar: workload!.commits.length };
      });

      const fault = await this.phase(drill, 'fault', async (phase) => {
        // The workload writes through the fault, as the application would, and a little after it.
        const result = await injectFault({
          instance: live,
          database: db,
          fault: spec.fault,
          workload: workload!,
          backups,
          seed: spec.dataset.seed,
          capture: () => captureState((d) => live.connect(d), db, DATASET_TABLES, 'the moment before the bad write'),
          report: (check) => drill.checks.push(check),
        });
        faultAt = result.at;
        heal = result.heal;
        await sleep(spec.workload.afterFault);
        const summary = await workload!.stop();
        drill.fault = { type: spec.fault.type, summary: result.summary, at: result.at.wall, ...result.detail, workload: summary };
        phase.detail = drill.fault;
        return result;
      });

      const recovered = await this.phase(drill, 'recovery', async (phase) => {
        const result = await recover({
          engine: await this.engine(spec),
          instance: live,
          standby,
          drill: spec,
          backups,
          fault,
          logDir: this.logDir(spec),
          scriptEnv: await this.scriptEnv(spec, live),
          track: (started) => instances.push(started),
          report: (check) => drill.checks.push(check),
        });
        drill.recovery = { procedure: spec.recovery.procedure, summary: result.summary, ...result.detail };
        phase.detail = drill.recovery;
        return result.instance;
      }).catch((error: unknown) => {
        if (error instanceof UnsupportedError) throw error;
        // A failed recovery is a finding, not a crash: the checks below show what it left,
        // and the drill fails even if the data happens to look right.
        recoveryFailed = true;
        drill.recovery = { procedure: spec.recovery.procedure, error: errorMessage(error) };
        drill.checks.push({
          name: 'recovery',
          verdict: 'fail',
          summary: `the ${spec.recovery.procedure} procedure failed: ${errorMessage(error).split('\n')[0]}`,
          evidence: { error: errorMessage(error) },
        });
        return live;
      });

      await this.phase(drill, 'verify', (phase) => this.verify(drill, recovered, spec, fault.expected ?? baseline, workload!, fault, phase));
      drill.status = recoveryFailed ? 'failed' : 'completed';
    } catch (error) {
      if (this.interrupted) return;
      const failedPhase = drill.phases.at(-1);
      if (failedPhase?.name === 'backup' && failedPhase.status === 'failed' && !(error instanceof UnsupportedError) && !(error instanceof SetupError)) {
        // A backup that fails is the finding a gate on backup scripts exists for, not a crash of the drill.
        drill.checks.push({ name: 'backup', verdict: 'fail', summary: `the backup failed: ${errorMessage(error).split('\n')[0]}`, evidence: { error: errorMessage(error) } });
      }
      drill.status = error instanceof UnsupportedError ? 'unsupported' : faultAt || drill.checks.length ? 'failed' : 'aborted';
      drill.error = errorMessage(error);
      if (error instanceof RestoreDrillError) drill.errorCode = error.code;
    } finally {
      if (workload) await workload.stop();
      if (!this.interrupted) {
        drill.verdict = drill.status === 'completed' || drill.status === 'failed' ? combine(drill.checks.map((c) => c.verdict)) : 'unknown';
        const keepFiles = this.options.keep || drill.verdict !== 'pass';
        if (instances.length) {
          const kept = await this.phase(drill, 'teardown', async (phase) => {
            phase.detail = { keepFiles, instances: instances.map((i) => i.name), healed: heal !== undefined };
            // The fault's own heal first: a damaged backup or archive is put right even when files are kept.
            await heal?.();
            const results = [];
            for (const each of instances) results.push(await each.destroy({ keepFiles }));
            return results;
          });
          const keptAt = kept.flatMap((k) => (k.keptAt ? [k.keptAt] : []));
          if (keptAt.length) drill.keptFiles = keptAt;
          const recovered = drill.phases.find((p) => p.name === 'recovery')?.endedAt;
          if (recovered) drill.logErrors = await logErrorsAfter(this.logDir(spec), recovered);
        }
        drill.endedAt = new Date().toISOString();
        drill.durationMs = performance.now() - started;
        this.emit((l) => l.drillEnded?.(this.journal, drill));
      }
    }
  }

  private async verify(
    drill: DrillJournal,
    instance: Instance,
    spec: LoadedDrill['spec'],
    expected: DatabaseState,
    workload: LedgerWorkload,
    fault: FaultResult,
    phase: PhaseJournal,
  ): Promise<void> {
    const recovered = await captureState((d) => instance.connect(d), spec.database, DATASET_TABLES, 'after recovery');
    const content = runContentChecks(spec.checks, expected, recovered);
    const verifiedAt = now();
    const recoveredSeqs = await readLedger(instance, spec.database);
    const boundary = fault.target?.firstSeqAfter;
    const loss = Array.isArray(recoveredSeqs) ? measureLoss(workload.commits, recoveredSeqs, fault.at, boundary) : recoveredSeqs;
    const rto = rtoCheck(spec.targets.rto, fault.at, verifiedAt, content.every((c) => c.verdict === 'pass'));
    const rpo = rpoCheck(spec.targets.rpo, loss);
    drill.checks.push(...content, rto.check, rpo.check);
    drill.rto = rto.rto;
    drill.rpo = rpo.rpo;
    phase.detail = { instance: instance.name, database: spec.database, checks: drill.checks.map((c) => `${c.name}: ${c.verdict}`) };
  }

  private async scriptEnv(spec: LoadedDrill['spec'], instance: Instance): Promise<Record<string, string>> {
    return scriptEnvironment(instance, spec.database, { runId: this.journal.runId, drill: spec.name, binDir: (await this.engine(spec)).clientBinDir });
  }

  private logDir(spec: LoadedDrill['spec']): string {
    return join(this.dir, spec.name);
  }
}

/** The instance capabilities a drill's fault and recovery rely on. */
function requiredCapabilities(spec: LoadedDrill['spec']): Array<keyof Capabilities> {
  const needs = new Set<keyof Capabilities>();
  if (spec.fault.type === 'kill-server') needs.add('kill');
  if (spec.backup.method === 'standby') needs.add('standby');
  if (spec.backup.method === 'pgbackrest') needs.add('pgbackrest');
  if (spec.engine.dataVolume) needs.add('sizeLimitedVolume');
  return [...needs];
}

async function takeBackup(spec: LoadedDrill['spec'], live: Instance, standby: Instance | undefined, env: Record<string, string>): Promise<BackupArtifact[]> {
  switch (spec.backup.method) {
    case 'pg_dump':
      return [await dump(live, spec.database, spec.backup.format)];
    case 'pg_basebackup':
      return [await baseBackup(live)];
    case 'pgbackrest':
      // A full backup, a second of writes, then an incremental on top of it: the restore needs both.
      return [await pgbackrestBackup(live, 1000)];
    case 'standby':
      return [await standbyCaughtUp(live, standby!)];
    case 'script':
      return scriptBackup(live, { script: spec.backup.script!, args: spec.backup.args, timeoutMs: spec.backup.timeout, env });
  }
}

/** The client tools whose versions must match the server's for this drill's backup and recovery. */
function backupTools(spec: LoadedDrill['spec']): PgTool[] {
  switch (spec.backup.method) {
    case 'pg_dump':
      return ['pg_dump', 'pg_restore'];
    case 'pg_basebackup':
      return ['pg_basebackup', 'pg_verifybackup'];
    case 'script':
      // The script brings its own tools; restores use pg_restore.
      return ['pg_restore'];
    default:
      // pgBackRest reads the server's version itself; a standby is cloned with pg_basebackup.
      return ['pg_basebackup'];
  }
}

/** The ledger's sequence numbers after recovery; a missing ledger means every row was lost. */
async function readLedger(instance: Instance, database: string): Promise<number[] | { error: string }> {
  let client;
  try {
    client = await instance.connect(database);
  } catch {
    return []; // The database is gone: nothing it held was recovered.
  }
  try {
    const { rows } = await client.query<{ seq: string }>(`select seq from ${LEDGER_TABLE} order by seq`);
    return rows.map((r) => Number(r.seq));
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return []; // undefined_table
    return { error: errorMessage(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}
