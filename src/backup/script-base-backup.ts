/**
 * The team's own physical backup tooling, run for real: its base-backup
 * script (given the connection and BACKUP_DIR, it must leave a tar-format
 * base backup folder there), and the archive_command and restore_command its
 * servers use (the WAL-E/WAL-G style of the runbooks), with `{archive}`
 * standing for the drill's archive folder. The server runs the archive
 * command from its first start; point-in-time recovery replays with the
 * team's restore command, so a drill runs through the team's tools end to end.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { ScriptError } from '../errors.js';
import { tail } from '../exec/command.js';
import type { ArtifactOf } from '../model/artifact.js';
import { withClient } from '../pg/client.js';
import { duration } from '../support/fields.js';
import { baseBackupChain, describeBaseBackup } from './base-backup-folder.js';
import { archiveTimeout, defineMethod } from './method.js';
import { runScript } from './script.js';

const detail = z.strictObject({
  script: z.string(),
  output: z.string().describe('The last lines the script printed.'),
  archiveCommand: z.string(),
  restoreCommand: z.string(),
});

declare module '../model/artifact.js' {
  interface BackupDetails {
    'script-base-backup': z.output<typeof detail>;
  }
}

/** Where the team's commands read and write the archive. */
const ARCHIVE = '{archive}';

const command = (what: string, example: string) =>
  z
    .string()
    .min(1)
    .refine((c) => c.includes(ARCHIVE), { message: `must name the archive folder as ${ARCHIVE}, e.g. ${example}` })
    .describe(`The team's ${what}, as in postgresql.conf, with ${ARCHIVE} for the drill's archive folder, e.g. ${example}.`);

export const scriptBaseBackup = defineMethod({
  method: 'script-base-backup',
  summary: "the team's own base-backup script, archive_command and restore_command (WAL-G style), run for real; the base backup it leaves is checked with pg_verifybackup",
  family: 'physical',
  schema: z.strictObject({
    method: z.literal('script-base-backup'),
    script: z.string().min(1).describe('The team\'s base-backup script, relative to the drill file: it must leave a tar-format base backup folder (base.tar.gz, pg_wal.tar.gz, backup_manifest) in BACKUP_DIR.'),
    args: z.array(z.string()).default([]),
    timeout: duration.prefault('30m').describe('How long the script may run before it is killed, with everything it started.'),
    archiveCommand: command('archive_command', '/opt/team/wal_push.sh %p {archive}/%f'),
    restoreCommand: command('restore_command', '/opt/team/wal_fetch.sh {archive}/%f %p'),
    archiveTimeout,
  }),
  detail,
  requires: ['serverRunsHostCommands'],
  label: (spec) => `script ${basename(spec.script)} + the team's WAL commands`,
  tools: () => ['pg_verifybackup'],
  instanceOptions: (spec) => ({ walArchive: { timeoutMs: spec.archiveTimeout, command: async (instance) => spec.archiveCommand.replaceAll(ARCHIVE, instance.archiveDir) } }),
  take: async (ctx, spec): Promise<Array<ArtifactOf<'script-base-backup'>>> => {
    const before = new Set(await readdir(ctx.primary.backupDir));
    const result = await runScript(ctx.primary, { script: spec.script, args: spec.args, timeoutMs: spec.timeout, env: { ...(await ctx.scriptEnv()), BACKUP_DIR: ctx.primary.backupDir } });
    const written = (await readdir(ctx.primary.backupDir)).filter((name) => !before.has(name));
    const folders: string[] = [];
    for (const name of written) {
      const manifest = await stat(join(ctx.primary.backupDir, name, 'backup_manifest')).catch(() => undefined);
      if (manifest) folders.push(name);
    }
    if (folders.length !== 1) {
      throw new ScriptError(
        `${spec.script} exited 0 but left ${folders.length === 0 ? 'no' : `${folders.length}`} base backup folder${folders.length === 1 ? '' : 's'} (with a backup_manifest) in BACKUP_DIR` +
          (written.length ? `; it wrote ${written.join(', ')}` : '; it wrote nothing at all'),
      );
    }
    const segmentBytes = await withClient(
      () => ctx.primary.connect('postgres'),
      async (client) => Number((await client.query<{ bytes: string }>("select setting as bytes from pg_settings where name = 'wal_segment_size'")).rows[0]!.bytes),
    );
    return [
      {
        method: 'script-base-backup',
        format: 'tar.gz',
        ...(await describeBaseBackup(join(ctx.primary.backupDir, folders[0]!), segmentBytes)),
        tool: spec.script,
        restoreCommand: spec.restoreCommand.replaceAll(ARCHIVE, ctx.primary.archiveDir),
        detail: { script: spec.script, output: tail(result.stdout, 10).trim(), archiveCommand: spec.archiveCommand, restoreCommand: spec.restoreCommand },
      },
    ];
  },
  integrityChain: baseBackupChain,
});
