/**
 * A hot standby streaming from the primary: cloned with pg_basebackup -R when
 * the drill starts, kept in step by streaming replication. Its "backup" is
 * the standby having replayed everything the primary has written.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Instance, InstanceOptions } from '../engines/types.js';
import { InternalError, RecoveryError } from '../errors.js';
import type { ArtifactOf } from '../model/artifact.js';
import { withClient } from '../pg/client.js';
import { sleep } from '../support/clock.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { defineMethod } from './method.js';

const detail = z.strictObject({
  standby: z.string(),
  primaryLsn: z.string(),
  replayedLsn: z.string(),
  replication: z.strictObject({ state: z.string(), sync: z.string() }).nullable(),
});

declare module '../model/artifact.js' {
  interface BackupDetails {
    standby: z.output<typeof detail>;
  }
}

async function startStandby(primary: Instance, start: (options: InstanceOptions) => Promise<Instance>): Promise<Instance> {
  if (!primary.replicationSource) throw new InternalError(`instance ${primary.name} offers no replication source; the standby capability should have been checked at setup`);
  const source = await primary.replicationSource();
  return start({
    prepareData: async (dataDir) => {
      // Cloned beside the primary (its tools, its version) into its backup folder, which the
      // harness can reach on every engine, then moved into the standby's data folder.
      // -R writes standby.signal and primary_conninfo; -X stream brings the WAL the copy needs.
      const clone = join(primary.backupDir, 'standby-clone');
      await primary.runPgTool('pg_basebackup', ['--pgdata', clone, '--wal-method=stream', '--write-recovery-conf', '--checkpoint=fast'], {
        timeoutMs: TOOL_TIMEOUT_MS,
      });
      await primary.runOnHost('sh', ['-c', 'cp -a "$1"/. "$2"/ && rm -rf "$1"', 'sh', clone, dataDir], { timeoutMs: TOOL_TIMEOUT_MS });
      // The clone says how the primary reached itself; the standby must reach it from where it runs.
      const auto = join(dataDir, 'postgresql.auto.conf');
      const settings = await readFile(auto, 'utf8');
      await writeFile(
        auto,
        settings.replace(/^(primary_conninfo = '.*)$/m, (line) => line.replace(/host=\S+/, `host=${source.host}`).replace(/port=\S+/, `port=${source.port}`)),
      );
    },
    settings: { hot_standby: 'on' },
  });
}

/** Waits until the standby has replayed all WAL the primary had written when called. */
async function standbyCaughtUp(primary: Instance, standby: Instance, timeoutMs = 120_000): Promise<ArtifactOf<'standby'>> {
  return withClient(
    () => primary.connect('postgres'),
    (source) =>
      withClient(
        () => standby.connect('postgres'),
        async (replica) => {
          const target = (await source.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn;
          const deadline = performance.now() + timeoutMs;
          let replayed = '';
          while (performance.now() < deadline) {
            const { rows } = await replica.query<{ replayed: string | null; behind: string }>(
              `select pg_last_wal_replay_lsn()::text as replayed,
                      coalesce(pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()), 0)::text as behind`,
              [target],
            );
            replayed = rows[0]!.replayed ?? '';
            if (Number(rows[0]!.behind) <= 0) {
              const state = await source.query<{ state: string; sync: string }>('select state, sync_state as sync from pg_stat_replication limit 1');
              return {
                method: 'standby' as const,
                format: 'streaming replication',
                path: standby.dataDir ?? standby.name,
                sidecar: '',
                files: [],
                sizeBytes: 0,
                sha256: '',
                tool: await standby.toolVersion('pg_basebackup'),
                detail: { standby: standby.name, primaryLsn: target, replayedLsn: replayed, replication: state.rows[0] ?? null },
              };
            }
            await sleep(100);
          }
          throw new RecoveryError(`standby ${standby.name} did not replay up to ${target} within ${timeoutMs} ms (replayed ${replayed || 'nothing'})`);
        },
      ),
  );
}

export const standby = defineMethod({
  method: 'standby',
  summary: 'a hot standby cloned with pg_basebackup -R at the start and streaming from the primary',
  family: 'replica',
  schema: z.strictObject({ method: z.literal('standby') }),
  detail,
  requires: ['standby'],
  label: () => 'hot standby (streaming replication)',
  tools: () => ['pg_basebackup'],
  startReplica: ({ primary, start }) => startStandby(primary, start),
  take: async (ctx) => {
    if (!ctx.standby) throw new InternalError('backup method standby: the standby was not started at setup');
    return [await standbyCaughtUp(ctx.primary, ctx.standby)];
  },
  // A standby has no files to check: its proof is the replay the drill verifies.
  integrityChain: () => [],
});
