/**
 * A team's pgBackRest repository, made the way a production server fills
 * one and with none of the harness's own pgBackRest code: its own
 * configuration and stanza, archive-push from the server, a full backup,
 * then rows only the archive holds. Production runs with more connections
 * than a throwaway instance's default, so a restore must read production's
 * limits to replay at all.
 */
import { chmodSync, chownSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { NativeEngine } from '../src/engines/native/engine.js';
import { tempDir } from './helpers.js';
import { momentBetween, switchAndWaitArchived } from './team-base-backup.js';

export const TEAM_STANZA = 'market';

/** The repository's folder, and a moment after the 40th row committed and before the 41st. */
export async function makeTeamPgbackrestRepo(engine: NativeEngine, into: string): Promise<{ repo: string; after40: string }> {
  let config = '';
  const production = await engine.startInstance('production', tempDir('pgbackrest-team-logs'), {
    settings: { max_connections: 60 },
    walArchive: {
      timeoutMs: 1000,
      command: async (instance) => {
        config = join(instance.archiveDir, 'team.conf');
        const owner = statSync(instance.archiveDir);
        writeFileSync(
          config,
          [
            '[global]',
            `repo1-path=${join(instance.archiveDir, 'repo')}`,
            `log-path=${instance.archiveDir}`,
            `lock-path=${instance.archiveDir}`,
            'start-fast=y',
            '',
            `[${TEAM_STANZA}]`,
            `pg1-path=${instance.serverSide.dataDir}`,
            `pg1-socket-path=${instance.serverSide.socketDir}`,
            '',
          ].join('\n'),
        );
        chownSync(config, owner.uid, owner.gid);
        return `pgbackrest --config=${config} --stanza=${TEAM_STANZA} archive-push %p`;
      },
    },
  });
  try {
    const pgbackrest = (...args: string[]) => production.runServerTool('pgbackrest', [`--config=${config}`, `--stanza=${TEAM_STANZA}`, `--pg1-port=${production.connection.port}`, ...args], { env: { PGPASSWORD: production.connection.password } });
    const admin = await production.connect('postgres');
    await admin.query('create database ledger');
    const client = await production.connect('ledger');
    await client.query("create table accounts (id int primary key, name text not null); insert into accounts select g, 'account ' || g from generate_series(1, 30) g");
    await pgbackrest('stanza-create');
    await pgbackrest('backup', '--type=full');
    await client.query("insert into accounts select g, 'account ' || g from generate_series(31, 40) g");
    const after40 = await momentBetween(admin);
    await client.query("insert into accounts select g, 'account ' || g from generate_series(41, 45) g");
    await switchAndWaitArchived(admin);
    await client.end();
    await admin.end();
    // Owners kept: the repository is the server user's, as in production, and reachable by it.
    chmodSync(into, 0o755);
    await execa('cp', ['-a', join(production.archiveDir, 'repo'), join(into, 'repo')]);
    return { repo: join(into, 'repo'), after40 };
  } finally {
    await production.destroy({ keepFiles: false });
  }
}
