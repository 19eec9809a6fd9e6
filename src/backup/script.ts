/**
 * The team's own backup and restore scripts, run as the team runs them, with
 * a documented environment:
 *   PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE   the database
 *   BACKUP_DIR                                    the folder the backup script writes into
 *   BACKUP_FILE                                   (restore scripts) the backup the harness checked and chose
 *   RESTORE_DRILL_RUN_ID, RESTORE_DRILL_DRILL     which run and drill this is
 * A backup script may also leave `<dump>.fingerprint.json` (restore-drill
 * fingerprint, in the dump's snapshot): the restore is then compared with it.
 * with a timeout, and their output captured. What a backup script wrote is
 * found by comparing the folder before and after it ran.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Instance } from '../engines/types.js';
import { ScriptError } from '../errors.js';
import { environmentSecrets, redact, tail, type CommandResult } from '../exec/command.js';
import type { ArtifactOf } from '../model/artifact.js';
import { duration } from '../support/fields.js';
import { sha256File } from '../support/sha256.js';
import { defineMethod, generations } from './method.js';
import { dumpChain } from './pg-dump.js';
import { fingerprintPath, sidecarPath, writeSidecar } from './sidecars.js';

const detail = z.strictObject({
  script: z.string(),
  args: z.array(z.string()),
  output: z.string().describe('The last lines the script printed.'),
  sidecarWritten: z.boolean(),
});

declare module '../model/artifact.js' {
  interface BackupDetails {
    script: z.output<typeof detail>;
  }
}

export interface ScriptRun {
  script: string;
  args: readonly string[];
  timeoutMs: number;
  env: Record<string, string>;
}

/** The environment a team script gets: the connection, the run, and the PostgreSQL binaries first on PATH. */
export function scriptEnvironment(instance: Instance, database: string, run: { runId: string; drill: string; binDir?: string }): Record<string, string> {
  return {
    PGHOST: instance.connection.host,
    PGPORT: String(instance.connection.port),
    PGUSER: instance.connection.user,
    PGPASSWORD: instance.connection.password,
    PGDATABASE: database,
    RESTORE_DRILL_RUN_ID: run.runId,
    RESTORE_DRILL_DRILL: run.drill,
    ...(run.binDir ? { PATH: `${run.binDir}:${process.env.PATH ?? ''}` } : {}),
  };
}

/**
 * Runs a script beside the server, in its own process group so a timeout ends
 * everything it started. What it printed comes back with every secret the
 * harness gave it (the password in PGPASSWORD, the cloud credentials it
 * inherits) replaced: a script that echoes
 * its environment must not put it into a report.
 */
export async function runScript(instance: Instance, run: ScriptRun): Promise<CommandResult> {
  const raw = await instance.runOnHost(run.script, run.args, { env: run.env, timeoutMs: run.timeoutMs, allowFailure: true, detached: true });
  const secrets = [instance.connection.password, run.env.PGPASSWORD ?? '', ...environmentSecrets()];
  const result = { ...raw, stdout: redact(raw.stdout, secrets), stderr: redact(raw.stderr, secrets) };
  const said = tail(`${result.stdout}\n${result.stderr}`, 10).trim();
  // The first line is what a summary shows: the error a failing script printed last (on stderr, where tools put theirs), then everything it said.
  const last = (result.stderr.trim() || result.stdout.trim()).split('\n').at(-1)?.trim();
  const words = said ? `: ${last}${said === last ? '' : `\n${said}`}` : '';
  if (result.failed && result.timedOut) {
    throw new ScriptError(`${run.script} did not finish within ${Math.round(run.timeoutMs / 1000)}s and was killed${said ? `; its last words${words}` : ''}`);
  }
  if (result.failed) throw new ScriptError(`${run.script} exited with code ${result.exitCode}${words}`);
  return result;
}

/** The dump formats a backup script may leave, told by their names. */
export function formatOf(name: string): 'custom' | 'plain.gz' | undefined {
  if (/\.(dump|backup|pgdump)$/.test(name)) return 'custom';
  if (/\.sql\.gz$/.test(name)) return 'plain.gz';
  return undefined;
}

async function scriptBackup(instance: Instance, run: ScriptRun): Promise<Array<ArtifactOf<'script'>>> {
  const before = new Set(await readdir(instance.backupDir));
  const result = await runScript(instance, { ...run, env: { ...run.env, BACKUP_DIR: instance.backupDir } });
  const written = (await readdir(instance.backupDir)).filter((name) => !before.has(name)).sort();
  const backups = written.filter((name) => formatOf(name));
  if (backups.length === 0) {
    throw new ScriptError(
      `${run.script} exited 0 but wrote no backup into BACKUP_DIR` +
        (written.length ? ` (it wrote ${written.join(', ')}, none a .dump or .sql.gz)` : ' (it wrote nothing at all)'),
    );
  }
  const artifacts: Array<ArtifactOf<'script'>> = [];
  for (const name of backups) {
    const path = join(instance.backupDir, name);
    const sizeBytes = (await stat(path)).size;
    const sha256 = await sha256File(path);
    const sidecar = written.includes(basename(sidecarPath(path))) ? sidecarPath(path) : '';
    // The source's fingerprint, when the script took one with the dump (restore-drill fingerprint): the restore is compared with it.
    const fingerprint = written.includes(basename(fingerprintPath(path))) ? { fingerprint: fingerprintPath(path) } : {};
    artifacts.push({
      method: 'script',
      format: formatOf(name)!,
      path,
      sidecar,
      files: [{ name, sizeBytes, sha256 }],
      sizeBytes,
      sha256,
      tool: run.script,
      ...fingerprint,
      detail: { script: run.script, args: [...run.args], output: tail(result.stdout, 10).trim(), sidecarWritten: sidecar !== '' },
    });
  }
  return artifacts;
}

export const script = defineMethod({
  method: 'script',
  summary: "the team's own backup script, given the connection and BACKUP_DIR; it must leave a .dump or .sql.gz there",
  family: 'logical',
  schema: z.strictObject({
    method: z.literal('script'),
    script: z.string().min(1).describe('The team\'s backup script, relative to the drill file.'),
    args: z.array(z.string()).default([]),
    timeout: duration.prefault('10m').describe('How long it may run before it is killed, with everything it started.'),
    generations,
  }),
  detail,
  features: ['damageable-file'],
  label: (spec) => `script ${basename(spec.script)}`,
  // The script brings its own tools; restores use pg_restore.
  tools: () => ['pg_restore'],
  take: async (ctx, spec) => scriptBackup(ctx.primary, { script: spec.script, args: spec.args, timeoutMs: spec.timeout, env: await ctx.scriptEnv() }),
  // A team's script may not write a sidecar; then the format's own checks stand alone.
  integrityChain: (artifact, instance) => dumpChain(instance, artifact.path, artifact.format, artifact.sidecar !== ''),
  dataFile: (artifact) => artifact.path,
  rewriteChecksums: async (artifact) => {
    if (artifact.sidecar) await writeSidecar(artifact.path, await sha256File(artifact.path));
  },
});
