/**
 * The application's configuration files, backed up and restored as the
 * runbook's backup_config.sh and restore_config.sh do (tar -czf, tar -xzf),
 * on a copy: the team's own folder (`source`) or a generated tree like the
 * runbook's. Before the archive is trusted, its digest, gzip stream and tar
 * listing are checked, which the runbook's restore does not do.
 */
import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { identifier, oneOf } from '../support/fields.js';
import { derive, type FileSpec, folderState, openFileSet, ownerFlags, readFolder, recoverFrom, targetsSchema, toolsOnPath, writeFiles } from './file-set.js';
import type { PartModule } from './part.js';

const schema = z.strictObject({
  kind: z.literal('config-files').describe('The application configuration files, backed up with tar as backup_config.sh does.'),
  name: identifier.default('config').describe('The part\'s name in the report.'),
  source: z
    .string()
    .min(1)
    .optional()
    .describe('A folder of the team\'s own configuration: a copy of it is drilled, the folder itself is never touched. Without it, a generated tree like the runbook\'s (.env, docker-compose.yml, alembic.ini, src/core/config.py, k8s/, scripts/).'),
  fault: z
    .strictObject({
      type: oneOf(['lose-files', 'damage-archive']).describe('lose-files: the files are removed; damage-archive: the newest archive is damaged as well, and the restore must refuse it.'),
    })
    .describe('What happens to the configuration.'),
  targets: targetsSchema,
});

export type ConfigFilesSpec = z.output<typeof schema>;

/** What backup_config.sh archives, in its order (the runbook's .taskmaster/ has no counterpart here). */
const RUNBOOK_ENTRIES = ['.env', 'docker-compose.yml', 'alembic.ini', 'src/core/config.py', 'k8s/', 'scripts/'];

/** A configuration tree like the runbook's, its values drawn from the seed. */
function generatedTree(seed: number): FileSpec[] {
  const hex = (name: string, bytes = 16) => derive(seed, `config/${name}`, bytes).toString('hex');
  const small = (name: string, modulo: number) => derive(seed, `config/${name}`, 1)[0]! % modulo;
  const version = `1.${small('minor', 40)}.${small('patch', 10)}`;
  const replicas = 2 + small('replicas', 4);
  const text = (path: string, lines: string[], mode = 0o644): FileSpec => ({ path, content: `${lines.join('\n')}\n`, mode });
  const script = (name: string, body: string) => text(`scripts/${name}`, ['#!/bin/bash', 'set -euo pipefail', body], 0o755);
  return [
    text('.env', ['APP_ENV=production', `DATABASE_URL=postgresql://trader:${hex('db-password')}@db:5432/market`, 'REDIS_URL=redis://redis:6379/0', `LOG_LEVEL=${small('log', 2) ? 'info' : 'warning'}`], 0o600),
    text('docker-compose.yml', ['services:', '  api:', `    image: tradingbot/api:${version}`, '    env_file: .env', '    depends_on: [db, redis]', '  db:', '    image: timescale/timescaledb:latest-pg16', '  redis:', '    image: redis:7']),
    text('alembic.ini', ['[alembic]', 'script_location = migrations', `version_table = alembic_version_${hex('table', 2)}`]),
    text('src/core/config.py', ['import os', '', 'class Settings:', '    database_url = os.environ["DATABASE_URL"]', `    max_positions = ${10 + small('positions', 90)}`]),
    text('k8s/deployment.yaml', ['apiVersion: apps/v1', 'kind: Deployment', 'metadata: {name: api}', `spec: {replicas: ${replicas}}`]),
    text('k8s/service.yaml', ['apiVersion: v1', 'kind: Service', 'metadata: {name: api}', 'spec: {ports: [{port: 8000}]}']),
    text('k8s/configmap.yaml', ['apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: api}', `data: {RELEASE: "${version}"}`]),
    script('backup_config.sh', 'tar -czf "/backup/config/config_$(date +%Y%m%d_%H%M%S).tar.gz" .env docker-compose.yml alembic.ini src/core/config.py k8s/ scripts/'),
    script('restore_config.sh', 'tar -xzf "$1"'),
  ];
}

export const configFilesPart: PartModule<ConfigFilesSpec> = {
  kind: 'config-files',
  summary:
    "The application's configuration files (the runbook's .env, docker-compose.yml, alembic.ini, k8s/, scripts/; or a copy of your own folder): backed up by tar -czf, restored by tar -xzf after sha256, gzip -t and tar -tzf, and every file's content, mode and owner compared with the backup.",
  schema,
  available: () => toolsOnPath(['tar', 'gzip']),
  async start(host, spec) {
    const source = spec.source === undefined ? undefined : resolve(spec.source);
    if (source && !(await stat(source).then((s) => s.isDirectory(), () => false))) {
      throw new InputError('DRILL_FILE_INVALID', `config-files "${spec.name}": source ${source} is not a folder; name the folder of the configuration to drill a copy of`);
    }
    // The part's files are the harness's own, as the runbook's scripts run as root: never as the servers' unprivileged user.
    const set = await openFileSet(host, { ...host.commands, runAs: undefined });
    // cp -a keeps modes and owners: the copy's state is the original's.
    if (source) await set.run('cp', ['-a', `${source}/.`, set.app]);
    // A team folder is archived whole; the generated tree the runbook's way, entry by entry.
    const entries = source ? ['.'] : RUNBOOK_ENTRIES;
    return {
      seed: async () => {
        if (!source) await writeFiles(set.app, generatedTree(host.seed));
      },
      async backup() {
        const path = set.stampedPath('config', '.tar.gz');
        await set.run('tar', ['-czf', path, '-C', set.app, ...entries]);
        return { backup: await set.recordBackup(path, { files: entries }), state: await folderState(set.app) };
      },
      strike: () => set.strike(spec.fault.type),
      recover: () =>
        recoverFrom(set.taken.at(-1), (backup) => [
          { check: 'gzip -t', run: async () => (await set.run('gzip', ['-t', backup.path]), 'gzip stream intact') },
          { check: 'tar -tzf', run: async () => `${(await set.run('tar', ['-tzf', backup.path])).stdout.trim().split('\n').length} entries listed` },
          { check: 'tar -xzf', restore: true, run: async () => (await set.run('tar', ['-xzf', backup.path, '-C', set.app, ...ownerFlags()]), `extracted into ${set.app}`) },
        ]),
      read: () => readFolder(set.app),
      dispose: (keep) => (keep ? Promise.resolve() : set.remove(false)),
    };
  },
};
