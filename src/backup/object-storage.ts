/**
 * Backups in object storage, reached the runbooks' way: the AWS CLI
 * (`aws s3api list-objects-v2`, `aws s3 cp`) against AWS or any
 * S3-compatible endpoint. Credentials come from where the CLI finds them
 * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance role),
 * never from the drill file; their values are redacted from anything a
 * command prints before it reaches an error, a journal or a report.
 */
import { BackupIntegrityError } from '../errors.js';
import { environmentSecrets, redact, runCommand, TOOL_TIMEOUT_MS, type CommandResult } from '../exec/command.js';

export interface ObjectStore {
  /** An S3-compatible endpoint (MinIO, Ceph, a test server); AWS itself when absent. */
  endpoint?: string;
  region?: string;
}

export interface StoredObject {
  url: string;
  key: string;
  lastModified: string;
  sizeBytes: number;
}

/** `s3://bucket/some/prefix/name` → its bucket and key. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!match) throw new BackupIntegrityError(`${url}: expected s3://bucket/key`);
  return { bucket: match[1]!, key: match[2]! };
}

async function aws(store: ObjectStore, args: string[], what: string): Promise<CommandResult> {
  const result = await runCommand(
    'aws',
    [...(store.endpoint ? ['--endpoint-url', store.endpoint] : []), ...(store.region ? ['--region', store.region] : []), ...args],
    { secrets: environmentSecrets() },
    // Only what the request needs is checksummed: S3-compatible servers refuse the newer trailing checksums.
    { timeoutMs: TOOL_TIMEOUT_MS, allowFailure: true, env: { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required', AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required' } },
  );
  if (result.failed) {
    const said = redact(`${result.stderr}\n${result.stdout}`.trim(), environmentSecrets()).split('\n').filter(Boolean).at(-1) ?? `exit ${result.exitCode}`;
    const refused = /InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|Forbidden|ExpiredToken|Unable to locate credentials/.test(said);
    throw new BackupIntegrityError(`${what}: ${refused ? 'the credentials were refused' : 'object storage failed'} (${said})`);
  }
  return result;
}

/** Every object whose key starts with the prefix, with its time and size. */
export async function listObjects(store: ObjectStore, bucket: string, prefix: string): Promise<StoredObject[]> {
  const result = await aws(store, ['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', prefix, '--output', 'json'], `s3://${bucket}/${prefix}: cannot list`);
  const listed = (result.stdout.trim() ? JSON.parse(result.stdout) : {}) as { Contents?: Array<{ Key: string; LastModified: string; Size: number }> };
  return (listed.Contents ?? []).map((o) => ({ url: `s3://${bucket}/${o.Key}`, key: o.Key, lastModified: new Date(o.LastModified).toISOString(), sizeBytes: o.Size }));
}

/** Downloads one object to a local file. */
export async function download(store: ObjectStore, url: string, to: string): Promise<void> {
  await aws(store, ['s3', 'cp', '--only-show-errors', url, to], `${url}: cannot download`);
}
