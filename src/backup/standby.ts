/**
 * A hot standby streaming from the primary: cloned with pg_basebackup -R when
 * the drill starts, kept in step by streaming replication. Its "backup" is
 * the standby having replayed everything the primary has written.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from '../clock.js';
import type { Engine } from '../engines/engine.js';
import type { Instance } from '../engines/instance.js';
import type { BackupArtifact } from './artifact.js';

export async function startStandby(engine: Engine, primary: Instance, name: string, logDir: string): Promise<Instance> {
  const source = await primary.replicationSource();
  return engine.startInstance(name, logDir, {
    prepareData: async (dataDir) => {
      // Cloned beside the primary (its tools, its version) into its backup folder, which the
      // harness can reach on every engine, then moved into the standby's data folder.
      // -R writes standby.signal and primary_conninfo; -X stream brings the WAL the copy needs.
      const clone = join(primary.backupDir, `clone-${name}`);
      await primary.runTool('pg_basebackup', ['--pgdata', clone, '--wal-method=stream', '--write-recovery-conf', '--checkpoint=fast'], {
        timeoutMs: 6 * 3_600_000,
      });
      await primary.runHost('sh', ['-c', 'cp -a "$1"/. "$2"/ && rm -rf "$1"', 'sh', clone, dataDir]);
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

/** Waits until the standby has replayed all WAL the primary had written when called; returns the lag seen. */
export async function standbyCaughtUp(primary: Instance, standby: Instance, timeoutMs = 120_000): Promise<BackupArtifact> {
  const source = await primary.connect('postgres');
  const replica = await standby.connect('postgres');
  try {
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
          method: 'standby',
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
    throw new Error(`standby ${standby.name} did not replay up to ${target} within ${timeoutMs} ms (replayed ${replayed || 'nothing'})`);
  } finally {
    await source.end();
    await replica.end();
  }
}

/** Promotes the standby and waits until it accepts writes. */
export async function promote(standby: Instance): Promise<void> {
  const client = await standby.connect('postgres');
  try {
    await client.query('select pg_promote(true, 60)');
  } finally {
    await client.end();
  }
  await standby.waitPromoted(60_000);
}
