/**
 * Short-lived containers of an instance's image, with its host folders
 * mounted at their host paths: where a program installed with the server
 * runs when the server's own container cannot exec any more (stopped for
 * pg_checksums, or lost before a pgBackRest restore), and how the harness
 * learns an image's facts (its postgres user, whether it ships pgBackRest)
 * before any instance starts. No network: they touch files only.
 */
import { ImageName } from 'testcontainers';
import { errorMessage } from '../../errors.js';
import { settle, shellQuote, timeoutOf, type CommandContext, type CommandOptions, type CommandResult } from '../../exec/command.js';
import { majorOf } from '../../pg/versions.js';
import { demuxStreams, type ContainerRuntimeClient } from './runtime.js';

export interface HelperRun {
  image: string;
  command: readonly string[];
  /** A user name of the image (postgres), or root. */
  user: string;
  env?: Record<string, string | undefined>;
  /** Host folders and where the helper sees them. */
  binds: ReadonlyArray<{ source: string; target: string }>;
  labels: Record<string, string>;
}

/** Runs one command in a new container of the image and removes it; recorded like any other command. */
export async function runHelper(client: ContainerRuntimeClient, ctx: CommandContext, run: HelperRun, options: CommandOptions = {}): Promise<CommandResult> {
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const env = Object.entries(run.env ?? {}).flatMap(([name, value]) => (value === undefined ? [] : [`${name}=${value}`]));
  let exitCode: number | undefined;
  let timedOut = false;
  let startError: string | undefined;
  let streams = { stdout: '', stderr: '' };
  try {
    const container = await client.container.dockerode.createContainer({
      Image: run.image,
      // The image's entrypoint would start a server (or initialise a cluster); the helper runs the command alone.
      Entrypoint: [''],
      Cmd: [...run.command],
      User: run.user,
      Env: env,
      Labels: run.labels,
      HostConfig: { NetworkMode: 'none', Binds: run.binds.map((b) => `${b.source}:${b.target}:rw`) },
    });
    try {
      await container.start();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), timeoutOf(options));
      });
      const waited = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, expired]);
      clearTimeout(timer);
      if (waited === 'expired') {
        timedOut = true;
        await container.kill().catch(() => undefined);
      } else {
        exitCode = waited.StatusCode;
      }
      streams = demuxStreams(await container.logs({ stdout: true, stderr: true, follow: false }));
    } finally {
      await container.remove({ force: true, v: true }).catch(() => undefined);
    }
  } catch (error) {
    startError = errorMessage(error);
    streams.stderr ||= startError;
  }
  const mounts = run.binds.flatMap((b) => ['-v', `${b.source}:${b.target}`]);
  return settle(
    {
      escapedCommand: ['docker', 'run', '--rm', '--network', 'none', '--user', run.user, ...mounts, run.image, ...run.command].map(shellQuote).join(' '),
      startedAt,
      durationMs: performance.now() - started,
      exitCode: startError ? undefined : exitCode,
      timedOut,
      startError,
      stdout: streams.stdout,
      stderr: streams.stderr,
    },
    ctx,
    options,
  );
}

/** What the harness must know of an image before it starts an instance of it. */
export interface ImageFacts {
  /** The image's id: a seeded cluster is kept per image, not per tag. */
  id: string;
  /** The image's postgres user, who owns the data folder and runs the server's tools. */
  uid: number;
  gid: number;
  /** `pgbackrest version`, when the image ships pgBackRest. */
  pgbackrest?: string;
  /** The major of the image's server (`postgres --version`), when it says. */
  serverMajor?: number;
}

const PROBE = 'id -u postgres && id -g postgres && { pgbackrest version 2>/dev/null || echo; } && { postgres --version 2>/dev/null || true; }';
const known = new Map<string, Promise<ImageFacts>>();

/**
 * Asks the image once per image id (pulled first if it is not here, as a
 * start would). Throws when the image cannot be had or run.
 */
export async function imageFacts(client: ContainerRuntimeClient, image: string, labels: Record<string, string>): Promise<ImageFacts> {
  const name = ImageName.fromString(image);
  if (!(await client.image.exists(name))) await client.image.pull(name);
  const id = (await client.container.dockerode.getImage(image).inspect()).Id;
  let facts = known.get(id);
  if (!facts) {
    facts = (async () => {
      const probe = await runHelper(client, {}, { image, command: ['sh', '-c', PROBE], user: 'root', binds: [], labels });
      const [uid, gid, pgbackrest, server] = probe.stdout.trim().split('\n');
      if (!/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? '')) throw new Error(`image ${image} has no postgres user (id -u postgres said "${probe.stdout.trim()}")`);
      const serverMajor = server ? majorOf(server) : undefined;
      return { id, uid: Number(uid), gid: Number(gid), ...(pgbackrest?.trim() ? { pgbackrest: pgbackrest.trim() } : {}), ...(serverMajor ? { serverMajor } : {}) };
    })();
    known.set(id, facts);
    facts.catch(() => known.delete(id));
  }
  return facts;
}
