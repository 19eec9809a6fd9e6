/**
 * Tamper-evident run folders. A drill report is evidence for an auditor, so
 * at the end of a run every file in the folder is listed with its size and
 * SHA-256 in manifest.json; optionally the manifest is signed with Ed25519
 * (manifest.sig). Verification names exactly what changed, file by file, and
 * reports a tampered folder as problems rather than throwing: a changed folder
 * is the answer the user asked for, not a failure to answer.
 *
 * The signature covers the exact bytes of manifest.json, so it can be checked
 * without this tool:
 *   base64 -d manifest.sig > sig.bin
 *   openssl pkeyutl -verify -pubin -inkey key.pub.pem -rawin -in manifest.json -sigfile sig.bin
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';
import { sha256File } from '../support/sha256.js';
import { writeFileAtomically } from '../support/files.js';
import { errorMessage, InputError } from '../errors.js';

const MANIFEST_FILE = 'manifest.json';
const SIGNATURE_FILE = 'manifest.sig';
const FORMAT = 'restore-drill-evidence/1';

const KEYGEN_HINT = 'generate one with: restore-drill keygen key.pem key.pub.pem (or openssl genpkey -algorithm ed25519 -out key.pem)';
const PUBLIC_KEY_HINT = "export it from the signer's private key with: openssl pkey -in key.pem -pubout -out key.pub.pem";

// Parsed, not trusted: manifest.json is the very file a tamperer would edit.
const manifestSchema = z.object({
  format: z.literal(FORMAT),
  createdAt: z.string(),
  files: z.array(
    z.object({
      path: z.string(),
      sizeBytes: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
  ),
  publicKey: z.string().optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;

export interface EvidenceVerdict {
  ok: boolean;
  /** One line per thing that changed, each naming the file. Empty when ok. */
  problems: string[];
  /** Files listed in the manifest that were found and compared. */
  checkedFiles: number;
  signature: 'valid' | 'invalid' | 'absent';
  /** The fingerprint of the key the valid signature was checked with. */
  keyFingerprint?: string;
}

/**
 * A key's fingerprint, written as OpenSSH writes its own (SHA256: and the
 * unpadded base64 of the hash), over the public key's DER
 * SubjectPublicKeyInfo: the same from the private or the public key, and
 * checkable without this tool:
 *   openssl pkey -pubin -in key.pub.pem -outform DER | openssl dgst -sha256 -binary | base64
 */
function fingerprint(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return `SHA256:${createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64').replace(/=+$/, '')}`;
}

/** The fingerprint of the key in a PEM file, private or public: what the report names and verify-evidence prints. */
export async function keyFingerprint(path: string, kind: 'private' | 'public'): Promise<string> {
  return fingerprint(await loadKey(path, kind));
}

export async function writeManifest(dir: string, options: { signingKey?: string }): Promise<Manifest> {
  // Load the key first: a bad key must not leave an unsigned manifest behind.
  const privateKey = options.signingKey === undefined ? undefined : await loadKey(options.signingKey, 'private');
  await assertFolder(dir);
  const { files, others } = await walk(dir);
  if (others.length) {
    // A link's target can change without its entry changing, so only plain files are evidence.
    throw new InputError('EVIDENCE_INVALID', `${dir}: ${others.join(', ')}: not regular files (links or special files); evidence folders may hold plain files only.`);
  }
  const manifest: Manifest = {
    format: FORMAT,
    createdAt: new Date().toISOString(),
    files: [],
  };
  // One file at a time: a run folder can hold many logs, and parallel streams gain nothing on one disk.
  for (const path of files) {
    manifest.files.push({ path, sizeBytes: (await stat(join(dir, path))).size, sha256: await sha256File(join(dir, path)) });
  }
  if (privateKey) manifest.publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();

  const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  await writeFileAtomically(join(dir, MANIFEST_FILE), bytes);
  if (privateKey) {
    await writeFileAtomically(join(dir, SIGNATURE_FILE), `${sign(null, bytes, privateKey).toString('base64')}\n`);
  } else {
    // A signature left from an earlier manifest would no longer match and make a fresh folder fail.
    await rm(join(dir, SIGNATURE_FILE), { force: true });
  }
  return manifest;
}

export async function verifyEvidence(dir: string, options: { publicKey?: string }): Promise<EvidenceVerdict> {
  const trustedKey = options.publicKey === undefined ? undefined : await loadKey(options.publicKey, 'public');
  await assertFolder(dir);
  const problems: string[] = [];

  const read = await readEvidence(join(dir, MANIFEST_FILE));
  const bytes = read instanceof Error ? undefined : read;
  let manifest: Manifest | undefined;
  if (read instanceof Error) {
    problems.push(read.code === 'ENOENT' ? `${MANIFEST_FILE} is missing, so nothing in this folder can be verified` : `${MANIFEST_FILE} cannot be read (${read.message})`);
  } else {
    try {
      const parsed = manifestSchema.safeParse(JSON.parse(read.toString('utf8')));
      if (parsed.success) manifest = parsed.data;
      else problems.push(`${MANIFEST_FILE} is not a ${FORMAT} manifest: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    } catch (error) {
      problems.push(`${MANIFEST_FILE} is not valid JSON (${errorMessage(error)})`);
    }
  }

  const { signature, key } = await checkSignature(dir, bytes, manifest, trustedKey, problems);

  let checkedFiles = 0;
  if (manifest) {
    const { files, others } = await walk(dir);
    const present = new Set(files);
    const listed = new Set(manifest.files.map((f) => f.path));
    // Only paths found by walking the folder are read, so a manifest entry like ../../etc/passwd is merely "missing".
    for (const entry of manifest.files) {
      if (!present.has(entry.path)) {
        if (!others.includes(entry.path)) problems.push(`${entry.path} is missing`);
        continue;
      }
      const path = join(dir, entry.path);
      let sizeBytes: number;
      let sha256: string;
      try {
        sizeBytes = (await stat(path)).size;
        sha256 = await sha256File(path);
      } catch (error) {
        problems.push(`${entry.path} cannot be read (${errorMessage(error)})`);
        continue;
      }
      const changes: string[] = [];
      if (sizeBytes !== entry.sizeBytes) changes.push(`size changed (manifest ${entry.sizeBytes} bytes, now ${sizeBytes} bytes)`);
      if (sha256 !== entry.sha256) changes.push(`SHA-256 changed (manifest ${short(entry.sha256)}, now ${short(sha256)})`);
      if (changes.length) problems.push(`${entry.path}: ${changes.join(', ')}`);
      checkedFiles++;
    }
    for (const path of files) {
      if (!listed.has(path)) problems.push(`${path} was added after the manifest was written`);
    }
    for (const path of others) problems.push(`${path} is not a regular file (a link or special file), so its content cannot be verified`);
  }

  return { ok: problems.length === 0, problems, checkedFiles, signature, ...(key ? { keyFingerprint: fingerprint(key) } : {}) };
}

/** Writes a new Ed25519 key pair as PEM; refuses to overwrite, since replacing a key orphans every folder it signed. */
export async function generateKeyPair(privatePath: string, publicPath: string): Promise<void> {
  for (const path of [privatePath, publicPath]) {
    if (await stat(path).then(() => true, () => false)) {
      throw new InputError('EVIDENCE_INVALID', `${path} already exists; choose another path or remove it first (a replaced key can no longer verify what it signed).`);
    }
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  await writeFile(privatePath, privateKey, { mode: 0o600, flag: 'wx' });
  await writeFile(publicPath, publicKey, { flag: 'wx' });
}

async function checkSignature(
  dir: string,
  bytes: Buffer | undefined,
  manifest: Manifest | undefined,
  trustedKey: KeyObject | undefined,
  problems: string[],
): Promise<{ signature: EvidenceVerdict['signature']; key?: KeyObject }> {
  const signatureText = await readEvidence(join(dir, SIGNATURE_FILE));
  if (signatureText instanceof Error && signatureText.code === 'ENOENT') {
    if (trustedKey) problems.push(`${SIGNATURE_FILE} is missing, but a public key was given: the folder is unsigned or its signature was deleted`);
    // Without this, deleting manifest.sig would quietly turn a signed folder into an unsigned one that verifies.
    else if (manifest?.publicKey) problems.push(`${SIGNATURE_FILE} is missing, but ${MANIFEST_FILE} names a signing key: the signature was deleted`);
    return { signature: 'absent' };
  }
  if (signatureText instanceof Error) {
    problems.push(`${SIGNATURE_FILE} cannot be read (${signatureText.message})`);
    return { signature: 'invalid' };
  }
  if (bytes === undefined) return { signature: 'invalid' }; // manifest.json unreadable: already reported.

  // The embedded key only proves the manifest is unchanged since signing; anyone can re-sign
  // with their own key. Proof of who signed needs the signer's key from elsewhere (trustedKey).
  let key = trustedKey;
  if (!key) {
    if (!manifest?.publicKey) {
      problems.push(`${SIGNATURE_FILE} is present but ${MANIFEST_FILE} has no publicKey to check it with; give the signer's public key`);
      return { signature: 'invalid' };
    }
    try {
      key = createPublicKey(manifest.publicKey);
    } catch {
      // Reported just below, like a key of the wrong type.
    }
    if (key?.asymmetricKeyType !== 'ed25519') {
      problems.push(`${MANIFEST_FILE}: its publicKey is not an Ed25519 public key, so ${SIGNATURE_FILE} cannot be checked`);
      return { signature: 'invalid' };
    }
  }
  if (verify(null, bytes, key, Buffer.from(signatureText.toString('utf8').trim(), 'base64'))) return { signature: 'valid', key };
  problems.push(`${SIGNATURE_FILE} does not match ${MANIFEST_FILE}: the manifest was changed after signing, or signed with another key`);
  return { signature: 'invalid' };
}

/** Refuses an unusable signing key before a run starts, not after it ends. */
export async function checkSigningKey(path: string): Promise<void> {
  await loadKey(path, 'private');
}

async function loadKey(path: string, kind: 'private' | 'public'): Promise<KeyObject> {
  const hint = kind === 'private' ? KEYGEN_HINT : PUBLIC_KEY_HINT;
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (error) {
    throw new InputError('EVIDENCE_INVALID', `${path}: cannot read the ${kind} key (${errorMessage(error)}); ${hint}`, { cause: error });
  }
  let key: KeyObject;
  try {
    key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (error) {
    throw new InputError('EVIDENCE_INVALID', `${path}: not a PEM ${kind} key (${errorMessage(error)}); ${hint}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new InputError('EVIDENCE_INVALID', `${path}: the key type is ${key.asymmetricKeyType ?? 'unknown'}, but evidence is signed with Ed25519 only; ${hint}`);
  }
  return key;
}

async function assertFolder(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new InputError('EVIDENCE_INVALID', `${dir}: not a folder; name a run folder such as reports/<run-id>`);
}

/** Every non-folder entry below dir except the manifest and its signature, as sorted POSIX paths relative to dir. */
async function walk(dir: string): Promise<{ files: string[]; others: string[] }> {
  const files: string[] = [];
  const others: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isDirectory()) continue;
    const path = relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/');
    // Only the top-level pair is excluded: a drill's own manifest.json is evidence like any other file.
    if (path === MANIFEST_FILE || path === SIGNATURE_FILE) continue;
    (entry.isFile() ? files : others).push(path);
  }
  // Code-unit order, not localeCompare: the listing must not depend on the machine's locale.
  return { files: files.sort(), others: others.sort() };
}

/** The file's bytes, or the read error: a tampered folder is reported, never thrown. */
function readEvidence(path: string): Promise<Buffer | NodeJS.ErrnoException> {
  return readFile(path).catch((error: NodeJS.ErrnoException) => error);
}

function short(sha256: string): string {
  return `${sha256.slice(0, 12)}…`;
}
