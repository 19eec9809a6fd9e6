/** Evidence manifests: every change to a run folder is named, and signatures bind the manifest to a key. */
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, keyFingerprint, verifyEvidence, writeManifest } from '../src/evidence/bundle.js';
import { InputError } from '../src/errors.js';
import { tempDir } from './helpers.js';

const SIGNATURE_MISMATCH = 'manifest.sig does not match manifest.json: the manifest was changed after signing, or signed with another key';

/** A run folder like the harness writes: journal, report, and per-drill logs. */
function runFolder(): string {
  const dir = tempDir('evidence');
  writeFileSync(join(dir, 'journal.json'), '{"runId":"r1"}\n');
  writeFileSync(join(dir, 'report.md'), '# Drill report\n\nRTO 4m 05s: pass\n');
  mkdirSync(join(dir, 'pitr', 'logs'), { recursive: true });
  writeFileSync(join(dir, 'pitr', 'server.log'), 'LOG:  database system is ready\n');
  writeFileSync(join(dir, 'pitr', 'logs', 'restore.log'), 'restored 1200 rows\n');
  // Only the top-level manifest is excluded; a nested file of the same name is evidence.
  writeFileSync(join(dir, 'pitr', 'manifest.json'), '{}');
  return dir;
}

let keys: string;
beforeAll(async () => {
  keys = tempDir('evidence-keys');
  await generateKeyPair(join(keys, 'key.pem'), join(keys, 'key.pub.pem'));
  await generateKeyPair(join(keys, 'other.pem'), join(keys, 'other.pub.pem'));
});

async function signedFolder(): Promise<string> {
  const dir = runFolder();
  await writeManifest(dir, { signingKey: join(keys, 'key.pem') });
  return dir;
}

describe('writeManifest', () => {
  it('lists every file with its size and SHA-256, sorted, with POSIX paths', async () => {
    const dir = runFolder();
    const manifest = await writeManifest(dir, {});
    expect(manifest.format).toBe('restore-drill-evidence/1');
    expect(manifest.files.map((f) => f.path)).toEqual(['journal.json', 'pitr/logs/restore.log', 'pitr/manifest.json', 'pitr/server.log', 'report.md']);
    const report = manifest.files.find((f) => f.path === 'report.md')!;
    const bytes = readFileSync(join(dir, 'report.md'));
    expect(report.sizeBytes).toBe(bytes.length);
    expect(report.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(manifest.publicKey).toBeUndefined();
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toEqual(manifest);
    expect(existsSync(join(dir, 'manifest.sig'))).toBe(false);
  });

  it('embeds the public key and signs when given a key; the private key is private to its owner', async () => {
    const dir = await signedFolder();
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.publicKey).toBe(readFileSync(join(keys, 'key.pub.pem'), 'utf8'));
    expect(readFileSync(join(dir, 'manifest.sig'), 'utf8')).toMatch(/^[A-Za-z0-9+/]{86}==\n$/);
    expect(statSync(join(keys, 'key.pem')).mode & 0o777).toBe(0o600);
  });

  it('removes a stale signature when rewritten unsigned', async () => {
    const dir = await signedFolder();
    await writeManifest(dir, {});
    expect(existsSync(join(dir, 'manifest.sig'))).toBe(false);
    expect(await verifyEvidence(dir, {})).toMatchObject({ ok: true, signature: 'absent' });
  });

  it('rejects a key that is not Ed25519, naming the key file, and writes nothing', async () => {
    const rsa = join(keys, 'rsa.pem');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const dir = runFolder();
    const attempt = writeManifest(dir, { signingKey: rsa });
    await expect(attempt).rejects.toThrow(InputError);
    await expect(attempt).rejects.toThrow(new RegExp(`^${rsa}: the key type is rsa, .*openssl genpkey -algorithm ed25519`));
    expect(existsSync(join(dir, 'manifest.json'))).toBe(false);
  });

  it('rejects an unreadable or malformed key, naming the key file', async () => {
    const missing = join(keys, 'nope.pem');
    await expect(writeManifest(runFolder(), { signingKey: missing })).rejects.toThrow(new RegExp(`^${missing}: cannot read the private key`));
    const garbage = join(keys, 'garbage.pem');
    writeFileSync(garbage, 'not a key\n');
    await expect(writeManifest(runFolder(), { signingKey: garbage })).rejects.toThrow(new RegExp(`^${garbage}: not a PEM private key`));
    // A public key where the private one belongs is a common slip.
    await expect(writeManifest(runFolder(), { signingKey: join(keys, 'key.pub.pem') })).rejects.toThrow(InputError);
  });

  it('refuses a folder holding symbolic links, whose targets could change unnoticed', async () => {
    const dir = runFolder();
    symlinkSync(join(dir, 'report.md'), join(dir, 'latest.md'));
    await expect(writeManifest(dir, {})).rejects.toThrow(/latest\.md: not regular files/);
  });
});

describe('verifyEvidence', () => {
  it('accepts a fresh unsigned bundle', async () => {
    const dir = runFolder();
    await writeManifest(dir, {});
    expect(await verifyEvidence(dir, {})).toEqual({ ok: true, problems: [], checkedFiles: 5, signature: 'absent' });
  });

  it('accepts a fresh signed bundle, with the embedded key and with the signer key given', async () => {
    const dir = await signedFolder();
    const fingerprint = await keyFingerprint(join(keys, 'key.pub.pem'), 'public');
    expect(await verifyEvidence(dir, {})).toEqual({ ok: true, problems: [], checkedFiles: 5, signature: 'valid', keyFingerprint: fingerprint });
    expect(await verifyEvidence(dir, { publicKey: join(keys, 'key.pub.pem') })).toEqual({ ok: true, problems: [], checkedFiles: 5, signature: 'valid', keyFingerprint: fingerprint });
  });

  it('names a key by one fingerprint, from its private or its public half, that openssl can reproduce', async () => {
    const fingerprint = await keyFingerprint(join(keys, 'key.pem'), 'private');
    expect(fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(await keyFingerprint(join(keys, 'key.pub.pem'), 'public')).toBe(fingerprint);
    expect(await keyFingerprint(join(keys, 'other.pub.pem'), 'public')).not.toBe(fingerprint);
    // The hash of the key's DER SubjectPublicKeyInfo, as `openssl pkey -pubin -outform DER | openssl dgst -sha256` gives it.
    const der = createPublicKey(readFileSync(join(keys, 'key.pub.pem'))).export({ type: 'spki', format: 'der' });
    expect(fingerprint).toBe(`SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`);
  });

  it('names the one file in which one byte changed, and only that file', async () => {
    const dir = await signedFolder();
    const path = join(dir, 'report.md');
    const bytes = readFileSync(path);
    bytes[bytes.indexOf('4')] = '5'.charCodeAt(0); // RTO 4m 05s -> 5m 05s
    writeFileSync(path, bytes);
    const verdict = await verifyEvidence(dir, {});
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toHaveLength(1);
    expect(verdict.problems[0]).toMatch(/^report\.md: SHA-256 changed \(manifest [0-9a-f]{12}…, now [0-9a-f]{12}…\)$/);
    // The manifest itself is untouched, so its signature still holds.
    expect(verdict.signature).toBe('valid');
  });

  it('names a file whose size changed', async () => {
    const dir = runFolder();
    await writeManifest(dir, {});
    writeFileSync(join(dir, 'pitr', 'server.log'), 'LOG:  database system is ready\nLOG:  edited\n');
    const { problems } = await verifyEvidence(dir, {});
    expect(problems).toEqual([expect.stringMatching(/^pitr\/server\.log: size changed \(manifest 31 bytes, now 44 bytes\), SHA-256 changed/)]);
  });

  it('names a deleted file', async () => {
    const dir = runFolder();
    await writeManifest(dir, {});
    rmSync(join(dir, 'pitr', 'logs', 'restore.log'));
    expect(await verifyEvidence(dir, {})).toEqual({ ok: false, problems: ['pitr/logs/restore.log is missing'], checkedFiles: 4, signature: 'absent' });
  });

  it('names an added file and an added link', async () => {
    const dir = runFolder();
    await writeManifest(dir, {});
    writeFileSync(join(dir, 'pitr', 'logs', 'note.txt'), 'all good\n');
    symlinkSync('/etc/hostname', join(dir, 'hostname'));
    expect((await verifyEvidence(dir, {})).problems).toEqual([
      'pitr/logs/note.txt was added after the manifest was written',
      'hostname is not a regular file (a link or special file), so its content cannot be verified',
    ]);
  });

  it('fails on the signature when a signed manifest is edited afterwards', async () => {
    const dir = await signedFolder();
    const manifestPath = join(dir, 'manifest.json');
    const manifest = readFileSync(manifestPath, 'utf8');
    const { sha256 } = JSON.parse(manifest).files.find((f: { path: string }) => f.path === 'journal.json');
    writeFileSync(manifestPath, manifest.replace(sha256, '0'.repeat(64)));
    const verdict = await verifyEvidence(dir, {});
    expect(verdict.signature).toBe('invalid');
    expect(verdict.problems).toContain(SIGNATURE_MISMATCH);
    expect(verdict.problems).toContainEqual(expect.stringMatching(/^journal\.json: SHA-256 changed \(manifest 000000000000…/));
  });

  it('fails when checked against a key other than the signer’s', async () => {
    const dir = await signedFolder();
    expect(await verifyEvidence(dir, { publicKey: join(keys, 'other.pub.pem') })).toEqual({
      ok: false,
      problems: [SIGNATURE_MISMATCH],
      checkedFiles: 5,
      signature: 'invalid',
    });
  });

  it('fails when a folder re-signed with another key is checked against the original signer', async () => {
    const dir = await signedFolder();
    writeFileSync(join(dir, 'report.md'), '# Drill report\n\nRTO 1m: pass\n');
    await writeManifest(dir, { signingKey: join(keys, 'other.pem') });
    // Consistent in itself, so the embedded key accepts it ...
    expect((await verifyEvidence(dir, {})).signature).toBe('valid');
    // ... which is why the signer's key, from elsewhere, is what proves who signed.
    expect((await verifyEvidence(dir, { publicKey: join(keys, 'key.pub.pem') })).signature).toBe('invalid');
  });

  it('fails when a public key is given but the folder is unsigned, or its signature was deleted', async () => {
    const unsigned = runFolder();
    await writeManifest(unsigned, {});
    expect(await verifyEvidence(unsigned, { publicKey: join(keys, 'key.pub.pem') })).toMatchObject({
      ok: false,
      signature: 'absent',
      problems: [expect.stringMatching(/^manifest\.sig is missing, but a public key was given/)],
    });
    const stripped = await signedFolder();
    rmSync(join(stripped, 'manifest.sig'));
    expect(await verifyEvidence(stripped, {})).toMatchObject({
      ok: false,
      signature: 'absent',
      problems: [expect.stringMatching(/^manifest\.sig is missing, but manifest\.json names a signing key/)],
    });
  });

  it('reports a missing or broken manifest without throwing', async () => {
    const dir = runFolder();
    expect(await verifyEvidence(dir, {})).toEqual({
      ok: false,
      problems: ['manifest.json is missing, so nothing in this folder can be verified'],
      checkedFiles: 0,
      signature: 'absent',
    });
    writeFileSync(join(dir, 'manifest.json'), '{"format": "restore-drill-evidence/1", "files": [');
    expect((await verifyEvidence(dir, {})).problems).toEqual([expect.stringMatching(/^manifest\.json is not valid JSON/)]);
    writeFileSync(join(dir, 'manifest.json'), '{"format": "something-else"}');
    expect((await verifyEvidence(dir, {})).problems).toEqual([expect.stringMatching(/^manifest\.json is not a restore-drill-evidence\/1 manifest: format: /)]);
  });

  it('throws InputError only for unusable inputs', async () => {
    await expect(verifyEvidence(join(keys, 'no-such-run'), {})).rejects.toThrow(InputError);
    const dir = runFolder();
    await writeManifest(dir, {});
    const missing = join(keys, 'missing.pub.pem');
    await expect(verifyEvidence(dir, { publicKey: missing })).rejects.toThrow(new RegExp(`^${missing}: cannot read the public key`));
  });
});

describe('generateKeyPair', () => {
  it('refuses to overwrite an existing key', async () => {
    await expect(generateKeyPair(join(keys, 'fresh.pem'), join(keys, 'key.pub.pem'))).rejects.toThrow(/key\.pub\.pem already exists/);
    expect(existsSync(join(keys, 'fresh.pem'))).toBe(false);
  });
});
