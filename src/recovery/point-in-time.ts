/**
 * Point-in-time recovery: the base backup into a new data folder (or
 * `pgbackrest restore`), the archived WAL replayed to the target (just before
 * the bad write, by time, LSN, xid or restore point; or to the end of the
 * archive), then promoted. Before replay from a plain archive, the archive's
 * continuity after the backup is observed: a gap is where replay will stop.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { backupMethod } from '../backup/index.js';
import { unpackBaseBackup } from '../backup/pg-basebackup.js';
import { InternalError, RecoveryError } from '../errors.js';
import { RECOVERY_TARGET_KINDS } from '../model/moments.js';
import { withClient } from '../pg/client.js';
import { recoveryTargetSettings } from '../pg/conf.js';
import { replayFloor } from '../pg/control.js';
import { archiveGaps, archivedSegments, replayStop } from '../pg/wal.js';
import { oneOf } from '../support/fields.js';
import { chooseBackup } from './choose-backup.js';
import { defineProcedure, recoveryWaitMs } from './procedure.js';

/** pg_hba.conf for a restored production cluster: trust from the server's own host and networks, nothing else. */
const THROWAWAY_HBA = ['local all all trust', 'host all all samehost trust', 'host all all samenet trust', 'host replication all samehost trust'].join('\n');

const detail = z.strictObject({
  target: z.enum(RECOVERY_TARGET_KINDS),
  targetSettings: z.record(z.string(), z.union([z.string(), z.number()])),
  archiveGaps: z.array(z.string()).optional(),
  replayStoppedAt: z.string().optional(),
  timeline: z.number().optional(),
  stopReason: z.string().optional(),
  walAfterPromotion: z.string(),
});

declare module '../model/journal.js' {
  interface RecoveryDetails {
    'point-in-time': z.output<typeof detail>;
  }
}

export const pointInTime = defineProcedure({
  procedure: 'point-in-time',
  summary: 'the newest good base backup into a new data folder, archived WAL replayed to the target, then promoted',
  schema: z.strictObject({
    procedure: z.literal('point-in-time'),
    target: oneOf(RECOVERY_TARGET_KINDS).default('end').describe('end: replay the whole archive; time, lsn, xid, name: stop just before the bad write, by that mark.'),
    at: z
      .string()
      .min(1)
      .optional()
      .describe("A backup made elsewhere (production-lost): where to stop, by target: a time ('2026-11-21 14:30:00+00'), an LSN, an xid or a restore point's name, as the runbook's recovery_target_* gives it."),
    verify: z.boolean().default(true).describe('false: use the newest backup without checking it first.'),
  }),
  detail,
  requires: { families: ['physical'], separateTarget: true },
  heals: ['instance-lost', 'bad-data', 'production-lost'],
  cannotHeal: (spec, harm) => {
    if (harm === 'bad-data' && spec.target === 'end') return 'point-in-time to the end of the archive replays the bad write too: set recovery.target to time, lsn, xid or name';
    // The harness's own faults mark where to stop; only a backup made elsewhere has no fault to mark it.
    if (spec.at !== undefined && harm !== 'production-lost') return 'recovery.at is for a backup made elsewhere; here the fault marks the moment to stop at itself: remove at';
    if (spec.at !== undefined && spec.target === 'end') return 'recovery.at needs recovery.target time, lsn, xid or name, saying what it is';
    return undefined;
  },
  needsRecoveryTarget: (spec) => spec.target !== 'end' && spec.at === undefined,
  label: (spec) => `point-in-time (target ${spec.target})`,
  run: async (ctx, spec) => {
    const { engine, instance } = ctx;
    const marker = ctx.fault.marker;
    // The value replay stops at: the fault's mark of that kind, or the drill file's for a backup made elsewhere.
    const stopAt = spec.target === 'end' ? undefined : (marker?.[spec.target] ?? spec.at);
    if (spec.target !== 'end' && stopAt === undefined) {
      throw new InternalError(`recovery target ${spec.target} needs the moment of a bad write, and the fault recorded none; the drill file should have been refused`);
    }
    const backup = await chooseBackup(ctx, spec.verify);
    const method = backupMethod(backup.method);
    // pgBackRest restores its own backups, and replays through its own archive-get.
    const viaPgbackrest = method.restoreInto !== undefined;
    const elsewhere = method.features?.includes('made-elsewhere') ?? false;
    const targetSettings = viaPgbackrest ? {} : recoveryTargetSettings(spec.target, stopAt);
    let gaps: string[] | undefined;
    if (!viaPgbackrest) {
      const from = backup.wal?.endSegment;
      if (!from || !backup.wal?.segmentBytes) throw new InternalError(`a ${backup.method} backup without the WAL segment it ended in cannot be replayed from a plain archive`);
      const found = archiveGaps(await archivedSegments(instance.archiveDir), from, backup.wal.segmentBytes);
      gaps = found.missing;
      ctx.observe({ kind: 'wal-archive', backupEndSegment: from, lastArchived: found.last, checked: found.checked, missing: found.missing });
    }
    const into = ctx.target ?? engine;
    // Data files are the major's own format: another major cannot even start on them. Said before anything is unpacked.
    const targetMajor = await into.serverMajor();
    if (backup.serverMajor !== undefined && targetMajor !== undefined && targetMajor !== backup.serverMajor) {
      throw new RecoveryError(
        `the base backup is of PostgreSQL ${backup.serverMajor} and the restore target runs PostgreSQL ${targetMajor}: a physical backup restores into the same major only, ` +
          `so nothing was replayed. To move to ${targetMajor}, restore a logical backup (pg_dump, then restore-database into the new major) or run pg_upgrade on a restored ${backup.serverMajor} cluster.`,
      );
    }
    // A physical backup of a TimescaleDB database replays into a server that must run its exact version.
    const offered = backup.timescaledb && into.timescaleVersions ? await into.timescaleVersions() : undefined;
    if (backup.timescaledb && offered && !offered.includes(backup.timescaledb)) {
      throw new RecoveryError(
        `the base backup holds a TimescaleDB ${backup.timescaledb} database, and the restore target's binaries offer ${offered.join(', ') || 'no TimescaleDB'}: ` +
          `a physical restore needs the same library version, so nothing was replayed. Install TimescaleDB ${backup.timescaledb} on the target.`,
      );
    }
    let restoreArgs: string[] = [];
    const restored = await into.startInstance(`${ctx.drillName}-restored`, ctx.logDir, {
      prepareData: async (dataDir) => {
        if (method.restoreInto) {
          // pgBackRest writes recovery.signal and its own restore_command (archive-get).
          restoreArgs = await method.restoreInto(instance, backup, dataDir, spec.target, stopAt);
        } else {
          await unpackBaseBackup(instance, backup.path, dataDir);
          await instance.runOnHost('touch', [join(dataDir, 'recovery.signal')]);
        }
        if (!elsewhere) return undefined;
        // Production's roles keep production's passwords, which the harness does not have: the throwaway
        // restore trusts connections from its own host and network only (the engine's instances listen nowhere else).
        await instance.runOnHost('bash', ['-c', 'printf "%s\n" "$2" > "$1/pg_hba.conf"', 'bash', dataDir, THROWAWAY_HBA]);
        // Production's limits, which replay must meet, are known only now that its pg_control is here.
        return backup.replaySettings ? undefined : replayFloor((await instance.runPgTool('pg_controldata', [dataDir])).stdout);
      },
      // The new server fetches WAL from the struck instance's archive.
      mounts: [instance.archiveDir],
      // At least the source's worker and connection limits, whatever the target's defaults: replay stops below them.
      settings: {
        ...backup.replaySettings,
        // Production's own settings came with its data folder: its archive_command must never run from a drill, nor its TLS files be looked for.
        ...(elsewhere ? { archive_mode: 'off', ssl: 'off' } : {}),
        ...(viaPgbackrest ? {} : { restore_command: backup.restoreCommand ?? `cp ${instance.archiveDir}/%f %p`, recovery_target_action: 'promote', ...targetSettings }),
      },
    });
    ctx.track(restored);
    await restored.waitPromoted(recoveryWaitMs(ctx));
    const stop = restored.dataDir ? await replayStop(restored.dataDir) : undefined;
    const end = await withClient(
      () => restored.connect('postgres'),
      async (client) => (await client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn,
    );
    return {
      instance: restored,
      atMarker: spec.target !== 'end',
      summary:
        (viaPgbackrest ? `pgbackrest restore ${restoreArgs.join(' ')} into a new data folder, ` : `base backup ${backup.path} into a new data folder, `) +
        'archived WAL replayed ' +
        (stopAt === undefined ? 'to the end of the archive' : `to ${spec.target} ${stopAt}`) +
        `, promoted${stop ? `: replay stopped at ${stop.stoppedAt} (${stop.reason})` : ''}`,
      detail: {
        target: spec.target,
        targetSettings: viaPgbackrest ? { pgbackrest: restoreArgs.join(' ') || '(end of archive)' } : targetSettings,
        ...(gaps ? { archiveGaps: gaps } : {}),
        ...(stop ? { replayStoppedAt: stop.stoppedAt, timeline: stop.timeline, stopReason: stop.reason } : {}),
        walAfterPromotion: end,
      },
    };
  },
});
