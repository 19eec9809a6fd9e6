/**
 * A real S3-compatible server for the tests (s3rver, from npm: no S3 server
 * is packaged by Debian, and s3rver checks signature-v4 credentials, lists
 * v2 and serves path-style buckets), on loopback, over TLS when given a
 * certificate; and the environment the harness and the team's scripts find
 * credentials in, set for a test and put back after.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { freePort } from '../src/support/ports.js';
import { tempDir } from './helpers.js';

export interface S3Server {
  port: number;
  /** http(s)://127.0.0.1:port */
  endpoint: string;
  /** The files of `key` and below in `bucket`, as s3rver keeps them on disk (one per object). */
  objectsUnder(bucket: string, key: string): string[];
  stop(): Promise<void>;
}

/** Starts s3rver with `bucket`, and waits until the bucket answers. */
export async function startS3Server(bucket: string, tls?: { key: string; cert: string }): Promise<S3Server> {
  const port = await freePort();
  const directory = tempDir('s3-data');
  const endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const server: ResultPromise = execa(
    resolve('node_modules/.bin/s3rver'),
    ['--directory', directory, '--port', String(port), '--address', '127.0.0.1', ...(tls ? ['--key', tls.key, '--cert', tls.cert] : []), '--configure-bucket', bucket, '--silent'],
    // s3rver makes a listing's continuation token (past 1,000 keys, as a pgBackRest repository has) with DES,
    // which Node 20's OpenSSL keeps in its legacy provider: without it, such a listing answers 500.
    { reject: false, env: { NODE_OPTIONS: '--openssl-legacy-provider' } },
  );
  for (let i = 0; ; i++) {
    const answer = await execa('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', `${endpoint}/${bucket}`], { reject: false });
    if (answer.stdout !== '000') break;
    if (i === 100) throw new Error(`s3rver did not answer on ${endpoint}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    endpoint,
    objectsUnder: (name, key) => {
      const folder = join(directory, name, key);
      return existsSync(folder) ? readdirSync(folder, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('._S3rver_object')) : [];
    },
    stop: async () => {
      server.kill();
      await server;
    },
  };
}

/** Sets environment variables for the harness (and the scripts it runs); returns what puts them back. */
export function setEnvironment(values: Record<string, string>): () => void {
  const saved = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  Object.assign(process.env, values);
  return () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}
