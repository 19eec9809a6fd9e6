/**
 * Backups in object storage, the runbooks' way: the dump, its `.sha256` and
 * its fingerprint uploaded with `aws s3 cp` to a real S3-compatible server
 * (s3-server.ts), then drilled from there, a dump and a base backup with its
 * WAL archive; and the team's own scripts uploading and restoring with
 * `aws s3 cp`. A missing object, a byte changed after its checksum and
 * refused credentials each fail naming which, and no credential appears in
 * the journal or the report, even where a script prints it.
 */
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeEngine } from '../src/engines/native/engine.js';
import type { NativeInstance } from '../src/engines/native/instance.js';
import { findPgBinaries } from '../src/engines/shared/binaries.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { check, drillYaml, recoveryOf, runDrills, tempDir, writeDrill } from './helpers.js';
import { setEnvironment, startS3Server, type S3Server } from './s3-server.js';
import { makeTeamBaseBackup } from './team-base-backup.js';

const BUCKET = 'team-backups';
/** s3rver's own key pair; the secret must never be seen in what a run writes. */
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_DEFAULT_REGION: 'us-east-1' };
const AWS_ENV = { ...CREDENTIALS, AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required', AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required' };

/** The AWS CLI is the runbooks' tool and the harness's: without it these tests skip, saying so, except where CI requires it. */
const noAws = (await execa('aws', ['--version'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0 ? undefined : 'the AWS CLI is not installed (apt-get install awscli)';

describe('the AWS CLI', () => {
  it.runIf(process.env.RESTORE_DRILL_REQUIRE_AWS_CLI === '1')('is required here (RESTORE_DRILL_REQUIRE_AWS_CLI=1)', () => {
    expect(noAws).toBeUndefined();
  });
});

describe.skipIf(noAws !== undefined)(`a backup in object storage (backup.method existing, s3://)${noAws ? ` (skipped: ${noAws})` : ''}`, () => {
  let engine: NativeEngine;
  let source: NativeInstance;
  let s3: S3Server;
  let endpoint: string;
  let restoreEnvironment = () => {};
  const drills = tempDir('s3-drills');
  const reports = tempDir('s3-reports');

  const aws = (...args: string[]) => execa('aws', ['--endpoint-url', endpoint, ...args], { env: AWS_ENV });
  const upload = (file: string, key: string) => aws('s3', 'cp', '--only-show-errors', file, `s3://${BUCKET}/${key}`);

  const drillOf = (name: string, path: string) =>
    writeDrill(drills, {
      name,
      database: 'ledger',
      backup: { method: 'existing', path, endpoint },
      fault: { type: 'production-lost' },
      recovery: { procedure: 'restore-database' },
      queries: [{ name: 'accounts', sql: 'select count(*) from accounts', expect: { equals: 20 } }],
      targets: { rto: '15m', rpo: '24h' },
    });

  beforeAll(async () => {
    s3 = await startS3Server(BUCKET);
    endpoint = s3.endpoint;
    // The harness's aws commands find the credentials where the AWS CLI does: the environment.
    restoreEnvironment = setEnvironment(CREDENTIALS);
    engine = await NativeEngine.create({ runId: 's3test', record: () => undefined });
    source = await engine.startInstance('source', tempDir('s3-logs'));
    const admin = await source.connect('postgres');
    await admin.query('create database ledger');
    await admin.end();
    const client = await source.connect('ledger');
    await client.query("create table accounts (id int primary key, name text not null); insert into accounts select g, 'account ' || g from generate_series(1, 20) g");
    await client.end();
    const { host, port: pgPort, user, password } = source.connection;
    const dump = join(tempDir('s3-dump'), 'ledger_20261121.dump');
    await execa(join((await findPgBinaries()).binDir, 'pg_dump'), ['--format=custom', `--file=${dump}`], { env: { PGHOST: host, PGPORT: String(pgPort), PGUSER: user, PGPASSWORD: password, PGDATABASE: 'ledger' } });
    await source.destroy({ keepFiles: false });
    // The runbooks' upload: the dump and its checksum beside it.
    writeFileSync(`${dump}.sha256`, `${createHash('sha256').update(readFileSync(dump)).digest('hex')}  ${basename(dump)}\n`);
    await upload(dump, `nightly/${basename(dump)}`);
    await upload(`${dump}.sha256`, `nightly/${basename(dump)}.sha256`);
    // The same dump with one byte changed after its checksum was written, under another prefix.
    const bytes = readFileSync(dump);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    const flipped = join(tempDir('s3-flipped'), basename(dump));
    writeFileSync(flipped, bytes);
    await upload(flipped, `flipped/${basename(dump)}`);
    await upload(`${dump}.sha256`, `flipped/${basename(dump)}.sha256`);
  });
  afterAll(async () => {
    restoreEnvironment();
    await source?.destroy({ keepFiles: false });
    await engine?.dispose();
    await s3?.stop();
  });

  it('downloads the newest match with its checksum, restores and passes; the journal names the object', async () => {
    const { journal } = await runDrills([drillOf('s3-honest', `s3://${BUCKET}/nightly/ledger_*.dump`)], reports);
    const drill = journal.drills[0]!;
    expect(drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(drill.backup).toMatchObject({ method: 'existing', detail: { source: `s3://${BUCKET}/nightly/ledger_20261121.dump`, candidates: 1 } });
    expect(check(drill, 'backup-integrity').summary).toMatch(/sha256 sidecar/);
    expect(check(drill, 'dump-row-counts').summary).toBe('every table holds the rows its dump holds: 1 tables, 20 rows');
    expect(drill.verdict).toBe('pass');
  });

  it('fails at integrity when the object changed after its checksum', async () => {
    const { journal } = await runDrills([drillOf('s3-flipped', `s3://${BUCKET}/flipped/ledger_*.dump`)], reports);
    const drill = journal.drills[0]!;
    expect(check(drill, 'backup-integrity')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(/sha256/) });
    expect(drill.verdict).toBe('fail');
  });

  it('fails naming the object when it is missing', async () => {
    const { journal } = await runDrills([drillOf('s3-missing', `s3://${BUCKET}/nightly/orders_*.dump`)], reports);
    const drill = journal.drills[0]!;
    expect(check(drill, 'backup').summary).toMatch(/s3:\/\/team-backups\/nightly\/orders_\*\.dump: no backup matches/);
    expect(drill.verdict).toBe('fail');
  });

  it('a base backup and its WAL archive in a bucket replay to the end of the archive and pass', async () => {
    const team = await makeTeamBaseBackup(engine, tempDir('s3-physical'));
    await aws('s3', 'cp', '--recursive', '--only-show-errors', team.base, `s3://${BUCKET}/base/2026-11-21/`);
    await aws('s3', 'cp', '--recursive', '--only-show-errors', team.wal, `s3://${BUCKET}/wal/`);
    const file = writeDrill(drills, {
      name: 's3-physical',
      database: 'ledger',
      backup: { method: 'existing-base-backup', path: `s3://${BUCKET}/base/2026-11-21/`, wal: `s3://${BUCKET}/wal/`, endpoint },
      fault: { type: 'production-lost' },
      recovery: { procedure: 'point-in-time' },
      queries: [{ name: 'accounts', sql: 'select count(*) from accounts', expect: { equals: 45 } }],
      targets: { rto: '15m', rpo: '24h' },
    });
    const { journal } = await runDrills([file], reports);
    const drill = journal.drills[0]!;
    expect(drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(drill.backup).toMatchObject({ detail: { source: `s3://${BUCKET}/base/2026-11-21/`, walSource: `s3://${BUCKET}/wal/` } });
    expect(drill.verdict).toBe('pass');
  });

  it('fails saying the credentials were refused, and no credential appears in the journal or the report', async () => {
    const secret = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
    process.env.AWS_ACCESS_KEY_ID = 'AKIANOBODYKNOWS00000';
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    try {
      const { journal } = await runDrills([drillOf('s3-refused', `s3://${BUCKET}/nightly/ledger_*.dump`)], reports);
      const drill = journal.drills[0]!;
      expect(check(drill, 'backup').summary).toMatch(/s3:\/\/team-backups\/nightly\/: cannot list: the credentials were refused/);
      expect(drill.verdict).toBe('fail');
      const written = JSON.stringify(journal) + renderMarkdown(journal);
      expect(written).not.toContain(secret);
      expect(written).not.toContain('AKIANOBODYKNOWS00000');
    } finally {
      process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.AWS_ACCESS_KEY_ID;
      process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.AWS_SECRET_ACCESS_KEY;
    }
  });
});

describe.skipIf(noAws !== undefined)(`the team's own scripts with aws s3 cp (backup_to_s3.sh, restore_from_s3.sh)${noAws ? ` (skipped: ${noAws})` : ''}`, () => {
  let s3: S3Server;
  let endpoint = '';
  let restoreEnvironment = () => {};
  const drills = tempDir('s3-script-drills');
  const reports = tempDir('s3-script-reports');
  const scripts = resolve('fixtures/scripts');

  const drillOf = (name: string, backupScript: string) =>
    writeDrill(
      drills,
      drillYaml({
        name,
        backup: { method: 'script', script: backupScript },
        fault: { type: 'drop-database' },
        recovery: { procedure: 'script', script: join(scripts, 'restore_from_s3.sh') },
      }),
    );

  beforeAll(async () => {
    s3 = await startS3Server(BUCKET);
    endpoint = s3.endpoint;
    // What the scripts find in the environment the drill runs in: the bucket, the endpoint, the AWS CLI's credentials.
    restoreEnvironment = setEnvironment({ ...AWS_ENV, S3_BUCKET: `s3://${BUCKET}/database`, S3_ENDPOINT_URL: endpoint });
  });
  afterAll(async () => {
    restoreEnvironment();
    await s3?.stop();
  });

  it('upload the dump and its checksum, then restore what is in the bucket (runbook scenario 4): pass, no credential written', async () => {
    const { journal } = await runDrills([drillOf('s3-scripts', join(scripts, 'backup_to_s3.sh'))], reports);
    const drill = journal.drills[0]!;
    expect(drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    // What was restored came from the bucket: the object is there, and the script said it checked and restored it.
    const listed = await execa('aws', ['--endpoint-url', endpoint, 's3', 'ls', `s3://${BUCKET}/database/`], { env: AWS_ENV });
    expect(listed.stdout).toContain(basename(drill.backup!.path));
    expect(JSON.stringify(recoveryOf(drill))).toMatch(/: OK.*Restored .* from s3:\/\/team-backups\/database/s);
    expect(JSON.stringify(journal) + renderMarkdown(journal)).not.toContain('S3RVER');
  });

  it('fail the recovery naming the missing object when the backup script never uploaded the dump', async () => {
    const { journal } = await runDrills([drillOf('s3-scripts-no-upload', join(scripts, 'broken', 'backup_to_s3_forgets_upload.sh'))], reports);
    const drill = journal.drills[0]!;
    expect(drill.verdict).toBe('fail');
    expect(check(drill, 'recovery').summary).toMatch(new RegExp(`restore_from_s3\\.sh exited with code 1: fatal error: .*\\(404\\).*database/${basename(drill.backup!.path)}" does not exist$`));
  });

  it('fail the recovery at sha256sum -c when the bucket holds a dump beside another dump\'s checksum', async () => {
    const { journal } = await runDrills([drillOf('s3-scripts-stale-sum', join(scripts, 'broken', 'backup_to_s3_stale_checksum.sh'))], reports);
    const drill = journal.drills[0]!;
    expect(drill.verdict).toBe('fail');
    expect(check(drill, 'recovery').summary).toMatch(/restore_from_s3\.sh exited with code 1: sha256sum: WARNING: 1 computed checksum did NOT match$/);
  });

  it('fail the backup when the credentials are refused, and the secret appears nowhere, even printed by the script', async () => {
    const secret = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
    process.env.AWS_ACCESS_KEY_ID = 'AKIANOBODYKNOWS00000';
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    try {
      // A script that prints the credentials it inherits, in a folder the servers' user (who runs it) can reach.
      const folder = tempDir('s3-leaky-script');
      chmodSync(folder, 0o755);
      const leaky = join(folder, 'backup_to_s3_leaky.sh');
      writeFileSync(leaky, `#!/usr/bin/env bash\necho "using key $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY"\nexec ${join(scripts, 'backup_to_s3.sh')}\n`, { mode: 0o755 });
      const { journal } = await runDrills([drillOf('s3-scripts-refused', leaky)], reports);
      const drill = journal.drills[0]!;
      expect(drill.verdict).toBe('fail');
      expect(check(drill, 'backup').summary).toMatch(/backup_to_s3_leaky\.sh exited with code 1: upload failed: .*InvalidAccessKeyId/);
      const written = JSON.stringify(journal) + renderMarkdown(journal);
      expect(written).toContain('using key **** / ****');
      expect(written).not.toContain(secret);
      expect(written).not.toContain('AKIANOBODYKNOWS00000');
    } finally {
      process.env.AWS_ACCESS_KEY_ID = AWS_ENV.AWS_ACCESS_KEY_ID;
      process.env.AWS_SECRET_ACCESS_KEY = AWS_ENV.AWS_SECRET_ACCESS_KEY;
    }
  });
});
