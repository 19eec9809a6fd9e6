/**
 * Backups in object storage, the runbooks' way: the dump, its `.sha256` and
 * its fingerprint uploaded with `aws s3 cp` to a real S3-compatible server
 * (s3rver, from npm: no S3 server is packaged by Debian, and s3rver checks
 * signature-v4 credentials, lists v2 and serves path-style buckets), then
 * drilled from there, a dump and a base backup with its WAL archive. A missing object, a byte changed after its checksum
 * and refused credentials each fail naming which, and no credential appears
 * in the journal or the report.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeEngine } from '../src/engines/native/engine.js';
import type { NativeInstance } from '../src/engines/native/instance.js';
import { findPgBinaries } from '../src/engines/shared/binaries.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { check, runDrills, tempDir, writeDrill } from './helpers.js';
import { makeTeamBaseBackup } from './team-base-backup.js';

const BUCKET = 'team-backups';
/** s3rver's own key pair; the secret must never be seen in what a run writes. */
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_DEFAULT_REGION: 'us-east-1' };
const AWS_ENV = { ...CREDENTIALS, AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required', AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required' };

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((done) => {
      const socket = createServer();
      socket.once('error', () => done(true));
      socket.listen(port, '127.0.0.1', () => socket.close(() => done(false)));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`s3rver did not listen on ${port}`);
}

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
  let s3: ResultPromise;
  let endpoint: string;
  const drills = tempDir('s3-drills');
  const reports = tempDir('s3-reports');
  const saved: Record<string, string | undefined> = {};

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
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    s3 = execa(resolve('node_modules/.bin/s3rver'), ['--directory', tempDir('s3-data'), '--port', String(port), '--address', '127.0.0.1', '--configure-bucket', BUCKET, '--silent'], { reject: false });
    await waitForPort(port);
    // The harness's aws commands find the credentials where the AWS CLI does: the environment.
    for (const [name, value] of Object.entries(CREDENTIALS)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
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
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await source?.destroy({ keepFiles: false });
    await engine?.dispose();
    s3?.kill();
    await s3;
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
