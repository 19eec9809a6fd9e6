/**
 * pgBackRest with its repository in S3, as the runbooks keep it: a real
 * S3-compatible server over TLS (s3rver with a certificate made here, which
 * pgBackRest verifies), archive-push from the server, full and incremental
 * backups, verify, and a point-in-time restore that fetches its WAL from the
 * bucket. The credentials come from the environment and are never written:
 * not in the journal, the report, nor the server's configuration.
 */
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderMarkdown } from '../src/report/markdown.js';
import { check, drillYaml, runDrills, tempDir, writeDrill } from './helpers.js';
import { setEnvironment, startS3Server, type S3Server } from './s3-server.js';

const noPgbackrest = (await execa('pgbackrest', ['version'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0 ? undefined : 'pgbackrest is not installed';
const BUCKET = 'pgbackrest-repo';

describe.skipIf(noPgbackrest !== undefined)(`pgBackRest with an S3 repository${noPgbackrest ? ` (skipped: ${noPgbackrest})` : ''}`, () => {
  let s3: S3Server;
  let port = 0;
  let restoreEnvironment = () => {};
  const tls = tempDir('s3-tls');

  beforeAll(async () => {
    // pgBackRest verifies the endpoint by its host name (not an IP address): the certificate is localhost's.
    // The server's user reads the CA file it verifies with.
    chmodSync(tls, 0o755);
    await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tls, 'key.pem'), '-out', join(tls, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost']);
    chmodSync(join(tls, 'cert.pem'), 0o644);
    s3 = await startS3Server(BUCKET, { key: join(tls, 'key.pem'), cert: join(tls, 'cert.pem') });
    port = s3.port;
    restoreEnvironment = setEnvironment({ AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  });
  afterAll(async () => {
    restoreEnvironment();
    await s3?.stop();
  });

  it('backs up to the bucket, verifies, and restores to the moment before a bad write, fetching WAL from the bucket; no credential is written; the repository, drilled as one made elsewhere, restores from the bucket too', async () => {
    const drills = tempDir('pgbackrest-s3-drills');
    const file = writeDrill(
      drills,
      drillYaml({
        name: 'pgbackrest-s3',
        backup: {
          method: 'pgbackrest',
          archiveTimeout: '1s',
          s3: { bucket: BUCKET, endpoint: 'localhost', port, uriStyle: 'path', caFile: join(tls, 'cert.pem') },
        },
        fault: { type: 'bad-write', sql: 'delete from trades' },
        recovery: { procedure: 'point-in-time', target: 'name' },
        targets: { rto: '15m', rpo: '5m' },
      }),
    );
    const { journal } = await runDrills([file], tempDir('pgbackrest-s3-reports'), { keep: true });
    const drill = journal.drills[0]!;
    try {
      expect(drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`), JSON.stringify(drill.recovery)).toEqual([]);
      expect(drill.backup).toMatchObject({ method: 'pgbackrest', path: expect.stringMatching(new RegExp(`^s3://${BUCKET}/restore-drill/`)), format: 'full + incr' });
      expect(check(drill, 'backup-integrity').summary).toMatch(/pgbackrest verify/);
      expect(drill.verdict).toBe('pass');
      // The secret is nowhere the run wrote: the journal, the report, any file of the servers' kept folders (configuration, logs, data).
      expect(JSON.stringify(journal) + renderMarkdown(journal)).not.toMatch(/S3RVER/);
      const kept = drill.keptFiles ?? [];
      expect(kept.length).toBeGreaterThan(0);
      const grep = await execa('grep', ['-rl', 'S3RVER', ...kept], { reject: false });
      expect({ exit: grep.exitCode, files: grep.stdout }).toEqual({ exit: 1, files: '' });
      // What the configuration holds is the variables' names.
      const conf = await execa('grep', ['-rh', 'archive-push', ...kept], { reject: false });
      expect(conf.stdout).toContain('PGBACKREST_REPO1_S3_KEY_SECRET="$AWS_SECRET_ACCESS_KEY"');
    } finally {
      // Only this drill's kept folders: others' are not ours to remove.
      for (const folder of drill.keptFiles ?? []) rmSync(folder, { recursive: true, force: true });
    }

    // The repository that drill left in the bucket, drilled as a team's own (existing-pgbackrest): only read, verified, restored to the end of its archive.
    const path = drill.backup!.path.slice(`s3://${BUCKET}`.length);
    const elsewhere = writeDrill(drills, {
      name: 'pgbackrest-s3-existing',
      database: 'market',
      backup: { method: 'existing-pgbackrest', stanza: 'drill', s3: { bucket: BUCKET, endpoint: 'localhost', port, uriStyle: 'path', caFile: join(tls, 'cert.pem'), path } },
      fault: { type: 'production-lost' },
      recovery: { procedure: 'point-in-time' },
      queries: [{ name: 'symbols', sql: 'select count(*) from symbols', expect: { atLeast: 1 } }],
      targets: { rto: '15m', rpo: '24h' },
    });
    const again = (await runDrills([elsewhere], tempDir('pgbackrest-s3-existing-reports'))).journal;
    const restored = again.drills[0]!;
    expect(restored.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(restored.backup).toMatchObject({ method: 'existing-pgbackrest', path: `s3://${BUCKET}${path}`, format: 'full + incr' });
    expect(JSON.stringify(again) + renderMarkdown(again)).not.toMatch(/S3RVER/);
    // The team's repository is only read: a drill that passed and keeps nothing leaves every object of it.
    expect(s3.objectsUnder(BUCKET, path).length).toBeGreaterThan(0);
  });

  it('removes its own repository from the bucket once the drill passed and keeps nothing (pgbackrest stanza-delete)', async () => {
    const file = writeDrill(
      tempDir('pgbackrest-s3-discard-drills'),
      drillYaml({
        name: 'pgbackrest-s3-discard',
        backup: { method: 'pgbackrest', archiveTimeout: '1s', s3: { bucket: BUCKET, endpoint: 'localhost', port, uriStyle: 'path', caFile: join(tls, 'cert.pem') } },
        fault: { type: 'lose-instance' },
        recovery: { procedure: 'point-in-time' },
        targets: { rto: '15m', rpo: '5m' },
      }),
    );
    const drill = (await runDrills([file], tempDir('pgbackrest-s3-discard-reports'))).journal.drills[0]!;
    expect(drill.verdict).toBe('pass');
    const path = drill.backup!.path.slice(`s3://${BUCKET}`.length);
    expect(drill.phases.find((p) => p.name === 'teardown')?.detail).toMatchObject({ keepFiles: false, removed: [drill.backup!.path] });
    expect(s3.objectsUnder(BUCKET, path)).toEqual([]);
  });
});
