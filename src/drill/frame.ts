/**
 * What every drill flow shares, whatever its phases (drill.ts for the
 * harness's own backups, existing-drill.ts for a backup made elsewhere): the
 * journal entry begun with the drill file copied into the run, the findings
 * (none after Ctrl-C), how an error that stopped it is recorded, and the end:
 * the verdict, every instance torn down, the server logs read.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { backupMethod } from '../backup/index.js';
import { scriptEnvironment } from '../backup/script.js';
import { logErrorsAfter } from '../checks/log-errors.js';
import type { Engine, Instance } from '../engines/types.js';
import { errorMessage, RestoreDrillError, SetupError, UnsupportedError } from '../errors.js';
import type { BackupMethodName } from '../model/artifact.js';
import type { DrillJournal } from '../model/journal.js';
import { drillVerdict, statusAfterError } from '../model/outcome.js';
import type { CheckResult } from '../model/verdict.js';
import { backupFailed, judge, recoveryFailed } from '../checks/observed.js';
import type { RecoverySpec } from '../recovery/index.js';
import { procedureModule } from '../recovery/index.js';
import type { RecoveryContext, RecoveryOutcome } from '../recovery/procedure.js';
import type { RecoveryRecord } from '../model/journal.js';
import type { PhaseRecorder } from './phases.js';
import type { LoadedDrill } from './spec.js';

/** What a drill may use of the run it belongs to. */
export interface DrillHost {
  runId: string;
  /** Keep every instance's files, not only a failed drill's. */
  keep: boolean;
  /** The drill's folder in the run's report folder (server logs). */
  logDir: string;
  interrupted(): boolean;
  engine(): Promise<Engine>;
  /** The engine of the drill's separate restore target (engine.restoreBinDir / restoreImage), when it names one. */
  restoreEngine(): Promise<Engine | undefined>;
  /** Adds the drill to the journal and returns its phase recorder. */
  begin(drill: DrillJournal): PhaseRecorder;
  end(drill: DrillJournal): void;
}

/** The copy of the drill file in the drill's folder of the run. */
const DRILL_COPY = 'drill.yaml';

/**
 * The drill file's bytes as run, copied into the drill's folder of the run:
 * the evidence manifest then holds what was run, not a path to a file that
 * may have changed since.
 */
async function copyDrillFile(logDir: string, bytes: Buffer): Promise<NonNullable<DrillJournal['source']>> {
  await mkdir(logDir, { recursive: true });
  await writeFile(join(logDir, DRILL_COPY), bytes);
  return { copy: `${basename(logDir)}/${DRILL_COPY}`, sizeBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export interface DrillFrame {
  drill: DrillJournal;
  phases: PhaseRecorder;
  started: number;
  /** Every instance the drill started (the struck one, a standby, a restored one), all torn down at the end. */
  instances: Instance[];
  /** What else the drill started (the system's other parts), stopped at the end: each returns the folders it kept. */
  disposals: Array<(keep: boolean) => Promise<string[]>>;
  /** Records checks; after Ctrl-C nothing is a finding: what failed then failed because the cleanup pulled the servers away. */
  found: (...checks: CheckResult[]) => void;
  /** The environment a team's script or command gets for an instance: its connection, the run, the client binaries on PATH. */
  scriptEnv: (instance: Instance) => Promise<Record<string, string>>;
}

export async function beginDrill(host: DrillHost, { file, spec, bytes }: LoadedDrill): Promise<DrillFrame> {
  const drill: DrillJournal = {
    name: spec.name,
    file,
    source: await copyDrillFile(host.logDir, bytes),
    ...(spec.description ? { description: spec.description } : {}),
    status: 'running',
    startedAt: new Date().toISOString(),
    phases: [],
    checks: [],
  };
  return {
    drill,
    phases: host.begin(drill),
    started: performance.now(),
    instances: [],
    disposals: [],
    found: (...checks) => {
      if (!host.interrupted()) drill.checks.push(...checks);
    },
    scriptEnv: async (instance) => scriptEnvironment(instance, spec.database, { runId: host.runId, drill: spec.name, binDir: (await host.engine()).clientBinDir }),
  };
}

/** The error that stopped a drill: a backup that failed is a finding; the status says how far it got. */
export function recordStop({ drill, found }: DrillFrame, error: unknown, faultStruck: boolean): void {
  const failedPhase = drill.phases.at(-1);
  if (failedPhase?.name === 'backup' && failedPhase.status === 'failed' && !(error instanceof UnsupportedError) && !(error instanceof SetupError)) {
    found(backupFailed(errorMessage(error)));
  }
  drill.status = statusAfterError({ unsupported: error instanceof UnsupportedError, faultStruck, checksRecorded: drill.checks.length });
  drill.error = errorMessage(error);
  if (error instanceof RestoreDrillError) drill.errorCode = error.code;
}

/**
 * The recovery phase: the drill's procedure, every instance it starts
 * tracked for the teardown, what it saw judged. A procedure that fails is a
 * finding, not a crash: the checks then read what it left on `fallback`.
 */
export async function recover(
  host: DrillHost,
  { drill, phases, found, instances }: DrillFrame,
  spec: RecoverySpec,
  ctx: Omit<RecoveryContext, 'track' | 'observe' | 'target' | 'logDir'>,
): Promise<{ instance: Instance; outcome?: RecoveryOutcome<unknown> }> {
  return phases
    .run('recovery', async () => {
      const outcome = await procedureModule(spec.procedure).run(
        { ...ctx, target: await host.restoreEngine(), logDir: host.logDir, track: (instance) => instances.push(instance), observe: (observation) => found(judge(observation)) },
        spec,
      );
      drill.recovery = { procedure: spec.procedure, summary: outcome.summary, ...(outcome.detail as object) } as RecoveryRecord;
      return { instance: outcome.instance, outcome };
    })
    .catch((error: unknown) => {
      if (error instanceof UnsupportedError || host.interrupted()) throw error;
      drill.recovery = { procedure: spec.procedure, error: errorMessage(error) };
      found(recoveryFailed(spec.procedure, errorMessage(error)));
      return { instance: ctx.instance };
    });
}

/** The verdict, then the teardown, then the drill's end in the journal; after Ctrl-C the run's cleanup does it instead. */
export async function endDrill(host: DrillHost, { drill, phases, instances, disposals, started }: DrillFrame, heal: (() => Promise<void>) | undefined): Promise<void> {
  if (host.interrupted()) return;
  drill.verdict = drillVerdict(drill.status, drill.checks);
  await teardown(host, phases, drill, instances, disposals, heal);
  drill.endedAt = new Date().toISOString();
  drill.durationMs = performance.now() - started;
  host.end(drill);
}

/** What a backup left outside the instances' folders (a repository in a bucket), removed; what could not be is named as left. */
async function discardStored(method: BackupMethodName, instances: readonly Instance[]): Promise<{ removed?: string[]; leftBehind?: string[] }> {
  const discard = backupMethod(method).discard;
  if (!discard) return {};
  const removed: string[] = [];
  const leftBehind: string[] = [];
  for (const instance of instances) {
    try {
      const what = await discard(instance);
      if (what) removed.push(what);
    } catch (error) {
      leftBehind.push(`${instance.name}: ${errorMessage(error)}`);
    }
  }
  return { ...(removed.length ? { removed } : {}), ...(leftBehind.length ? { leftBehind } : {}) };
}

/** The fault's own heal first (a damaged backup or archive is put right even when files are kept), then what the backup stored elsewhere, then every instance. */
async function teardown(host: DrillHost, phases: PhaseRecorder, drill: DrillJournal, instances: Instance[], disposals: DrillFrame['disposals'], heal: (() => Promise<void>) | undefined): Promise<void> {
  if (!instances.length && !disposals.length) return;
  const keepFiles = host.keep || drill.verdict !== 'pass';
  const kept = await phases.run('teardown', async (phase) => {
    phase.detail = { keepFiles, instances: instances.map((i) => i.name), healed: heal !== undefined };
    await heal?.();
    if (!keepFiles && drill.backup) phase.detail = { ...phase.detail, ...(await discardStored(drill.backup.method, instances)) };
    const results = [];
    for (const each of instances) results.push(await each.destroy({ keepFiles }));
    const partsKept: string[] = [];
    for (const dispose of disposals) partsKept.push(...(await dispose(keepFiles)));
    return { results, partsKept };
  });
  const keptAt = [...kept.results.flatMap((k) => (k.keptAt ? [k.keptAt] : [])), ...kept.partsKept];
  if (keptAt.length) drill.keptFiles = keptAt;
  const recovered = drill.phases.find((p) => p.name === 'recovery')?.endedAt;
  const tornDown = drill.phases.find((p) => p.name === 'teardown')?.startedAt;
  if (recovered) drill.logErrors = await logErrorsAfter(host.logDir, recovered, tornDown);
}
