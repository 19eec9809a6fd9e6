/**
 * A drill of a backup the team already has (the methods made elsewhere:
 * existing, existing-base-backup, existing-pgbackrest), as its phases:
 *   setup → backup (found, copied, only read) → fault (production lost) → recovery → verify → teardown
 * Nothing is seeded and nothing written, so there is no synthetic baseline;
 * the restore is verified by what holds without one: the backup's integrity
 * before it is trusted, the recovery itself, every table's rows against the
 * rows a dump holds, TimescaleDB's state as the dump's catalog records it
 * (or, restored from a base backup, as each database's catalog asks for it),
 * pg_amcheck on the restored database, every page's checksum of a restored
 * base backup, the source's fingerprint when the backup came with one, the
 * team's own queries (a `sameAsBackup` one against the value its sidecar
 * recorded) and smoke tests, RTO, and the backup's age against the RPO
 * target. It never connects to production.
 */
import { backupMethod } from '../backup/index.js';
import { timescaleOfDump } from '../backup/dump-catalog.js';
import { dumpRowCounts } from '../backup/dump-rows.js';
import { judgeAmcheck } from '../checks/amcheck.js';
import { judgeDumpRows } from '../checks/dump-rows.js';
import { judgePageChecksums } from '../checks/page-checksums.js';
import { timescaleAgainstDump, timescaleOfCluster } from '../checks/timescaledb.js';
import { compareWithSource, queryAtBackup, readFingerprint } from '../checks/source-fingerprint.js';
import { stateKey } from '../checks/snapshot.js';
import { backupAgeCheck, rtoCheck } from '../checks/targets.js';
import { judgeCommand, judgeQuery } from '../checks/team.js';
import { errorMessage } from '../errors.js';
import { PRODUCTION_LOST } from '../faults/production-lost.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import type { Instance } from '../engines/types.js';
import type { BackupArtifact } from '../model/artifact.js';
import type { FaultRecord } from '../model/journal.js';
import { statusAfterVerify } from '../model/outcome.js';
import { combine, type CheckResult } from '../model/verdict.js';
import { now, type Instant } from '../support/clock.js';
import { beginDrill, endDrill, recordStop, recover, type DrillHost } from './frame.js';
import type { LoadedDrill } from './spec.js';
import { runCommands, runQueries } from './team-checks.js';

/** When the backup's newest data was written: the fingerprint's moment when it has one (the dump's own snapshot), else what the method knew. */
async function writtenAt(backup: BackupArtifact): Promise<{ at: string; by: string } | undefined> {
  if (backup.fingerprint) {
    const fingerprint = await readFingerprint(backup.fingerprint);
    if (!('problem' in fingerprint)) return { at: fingerprint.takenAt, by: "its fingerprint's snapshot" };
  }
  return backup.written;
}

/** pg_checksums on the restored cluster: it must be stopped to be read, and is started again for what follows. */
async function checkPages(restored: Instance): Promise<CheckResult> {
  const dataDir = restored.dataDir;
  if (!dataDir) return judgePageChecksums({ unreachable: 'the restored data folder is not on the host (a tmpfs in the container)' });
  await restored.stop();
  try {
    return judgePageChecksums(await restored.runPgTool('pg_checksums', ['--check', '--pgdata', dataDir], { allowFailure: true, timeoutMs: TOOL_TIMEOUT_MS }));
  } finally {
    await restored.start();
  }
}

export async function runExistingDrill(host: DrillHost, loaded: LoadedDrill): Promise<void> {
  const { spec } = loaded;
  const frame = await beginDrill(host, loaded);
  const { drill, phases, found, instances, scriptEnv } = frame;
  const db = spec.database;
  const method = backupMethod(spec.backup.method);
  let faultAt: Instant | undefined;

  try {
    const { engine, empty } = await phases.run('setup', async (phase) => {
      const engine = await host.engine();
      drill.engine = engine.describe();
      // An empty instance: the restore is all it will hold.
      const empty = await engine.startInstance(spec.name, host.logDir);
      instances.push(empty);
      const info = await empty.serverInfo();
      drill.engine = { ...drill.engine, server: info.version, major: info.major, timescaledb: info.timescaledb, tools: { pg_restore: await empty.toolVersion('pg_restore') } };
      phase.detail = { port: empty.connection.port, database: db };
      return { engine, empty };
    });

    const backups = await phases.run('backup', async (phase) => {
      const taken = await method.take({ primary: empty, database: db, scriptEnv: () => scriptEnv(empty) }, spec.backup);
      drill.backup = taken.at(-1)!;
      phase.detail = { source: (drill.backup.detail as { source?: string }).source, copiedTo: drill.backup.path };
      return taken;
    });

    faultAt = await phases.run('fault', async () => {
      const at = now();
      drill.fault = { type: spec.fault.type, summary: PRODUCTION_LOST, at: at.wall } as FaultRecord;
      return at;
    });

    const recovery = await recover(host, frame, spec.recovery, {
      engine,
      instance: empty,
      drillName: spec.name,
      database: db,
      rtoTargetMs: spec.targets.rto,
      backups,
      fault: {},
      scriptEnv: () => scriptEnv(empty),
    });
    const restored = recovery.instance;
    const restoredFrom = recovery.outcome?.restoredFrom;
    const recoveryFailedToo = !recovery.outcome;

    await phases.run('verify', async (phase) => {
      const content: CheckResult[] = [];
      // A restore-table brought back one table into a new database: the checks of the whole database narrow to it.
      const alone = recovery.outcome?.onlyTable;
      const only = alone && { dumped: new Set(alone.dumpedAs), state: stateKey(alone) };
      const amcheck = await restored.runPgTool('pg_amcheck', ['--install-missing', '--heapallindexed', `--database=${db}`], { timeoutMs: TOOL_TIMEOUT_MS, allowFailure: true });
      content.push(judgeAmcheck(db, amcheck));
      // A dump says how many rows it holds; a base backup does not, and its WAL replay is checked as it runs (the archive's continuity).
      if (method.family === 'logical') {
        const dumped = await dumpRowCounts(restored, drill.backup!, await scriptEnv(restored)).catch((error: unknown) => ({ error: errorMessage(error) }));
        content.push(await judgeDumpRows(() => restored.connect(db), db, only && !('error' in dumped) ? new Map([...dumped].filter(([table]) => only.dumped.has(table.replaceAll('"', '')))) : dumped));
        // Rows are not all of it: TimescaleDB's own state, as the dump's catalog records it, must come back too (with the whole database).
        const { timescaledb, format } = drill.backup!;
        if (timescaledb && (!alone || alone.wholeDatabase) && (format === 'custom' || format === 'plain.gz')) {
          const version = recovery.outcome?.timescaleVersion ?? timescaledb;
          const state = await timescaleOfDump(restored, drill.backup!.path, format).catch((error: unknown) => ({ error: errorMessage(error) }));
          content.push(
            'error' in state
              ? { name: 'timescaledb', verdict: 'unknown', summary: `the dump's TimescaleDB catalog could not be read: ${state.error}`, evidence: {} }
              : await timescaleAgainstDump(() => restored.connect(db), db, state, version),
          );
        }
      }
      if (restoredFrom?.fingerprint) content.push(await compareWithSource(() => restored.connect(db), db, restoredFrom.fingerprint, recovery.outcome?.withoutOwners, only?.state));
      const queried = await runQueries(() => restored.connect(db), spec.queries);
      // No seeded baseline here: the value at the backup is the one its sidecar recorded in the dump's snapshot.
      const path = restoredFrom?.fingerprint;
      const sidecar = path && spec.queries.some((q) => 'sameAsBackup' in q.expect) ? { path, source: await readFingerprint(path) } : undefined;
      for (const query of spec.queries) {
        const atBackup = 'sameAsBackup' in query.expect ? queryAtBackup(sidecar, query) : undefined;
        content.push(judgeQuery(query, queried.get(query.name)!, atBackup));
      }
      const smoked = await runCommands(restored, spec.commands, await scriptEnv(restored));
      for (const command of spec.commands) content.push(judgeCommand(command, smoked.get(command.name)!));
      if (method.family === 'physical' && recoveryFailedToo) {
        // The instance left is the empty one the restore was meant for: its pages say nothing of the backup.
        content.push({ name: 'page-checksums', verdict: 'unknown', summary: 'not read: the recovery failed, so no restored cluster is there to read', evidence: {} });
      } else if (method.family === 'physical') {
        // No dump's catalog to compare with: the restored cluster says which TimescaleDB each database asks for.
        const timescale = await timescaleOfCluster((database) => restored.connect(database), await engine.timescaleVersions?.());
        if (timescale) content.push(timescale);
        // Last: the server is stopped while its pages are read.
        content.push(await checkPages(restored));
      }
      const verifiedAt = now();
      const rto = rtoCheck(spec.targets.rto, faultAt!, verifiedAt, recoveryFailedToo ? 'fail' : combine(content.map((c) => c.verdict)));
      const written = await writtenAt(drill.backup!);
      const rpo = backupAgeCheck(spec.targets.rpo, written, new Date(verifiedAt.wall));
      found(...content, rto.check, rpo.check);
      drill.rto = rto.rto;
      drill.rpo = rpo.rpo;
      phase.detail = { instance: restored.name, database: db };
    });
    if (host.interrupted()) return;
    drill.status = statusAfterVerify(recoveryFailedToo);
  } catch (error) {
    if (!host.interrupted()) recordStop(frame, error, faultAt !== undefined);
  } finally {
    await endDrill(host, frame, undefined);
  }
}
