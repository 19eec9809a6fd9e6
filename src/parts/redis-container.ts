/**
 * The Redis part's server in Docker (engine: docker): a container per start
 * of redis-server (a recovery starts a new one on the same data folder and
 * port), and the Redis tools in short-lived containers of the same image, so
 * the host needs Docker and the image, no Redis. Every docker command goes
 * through exec/command.ts and lands in the journal.
 *
 * The part's folders are mounted at their host paths: the backups' cp, the
 * faults' damage and the restore's copy-back work on the host as natively.
 * Redis runs as root in the container (--user 0: under rootless Docker, the
 * harness's own user on the host). With a rootful Docker, what it writes in
 * the data folder is root's on the host, which a harness that is not root
 * cannot remove (CI runs it as root).
 */
import { randomBytes } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { runCommand, type CommandContext, type CommandOptions, type CommandResult } from '../exec/command.js';
import { RedisServer, type RedisTool } from './redis-server.js';

/**
 * The project's local image (scripts/docker/build-local-image.sh): Debian's
 * PostgreSQL, and Debian's redis-server and redis-tools. engines/docker/images.ts's
 * LOCAL_IMAGE, by value: a part may not import an engine.
 */
export const REDIS_IMAGE = 'restore-drill/postgres:15-local';

/**
 * The Docker engine's labels (engines/docker/leftovers.ts, labelsFor), by
 * value: its sweep removes every `restore-drill=true` container of this host
 * whose harness pid is gone, so a killed run's Redis goes with its PostgreSQL,
 * and a run's containers are found by its id. `restore-drill.part` names the part's folder.
 */
function labels(runId: string, instance: string, workDir: string): string[] {
  const values = { 'restore-drill': 'true', 'restore-drill.run': runId, 'restore-drill.pid': String(process.pid), 'restore-drill.host': hostname(), 'restore-drill.instance': instance, 'restore-drill.part': workDir };
  return Object.entries(values).flatMap(([key, value]) => ['--label', `${key}=${value}`]);
}

const mounts = (paths: readonly string[]) => paths.flatMap((path) => ['-v', `${path}:${path}`]);

/** Whether Docker can run the part: an engine that answers, the image, and redis-server in it; the reason names the fix. */
export async function containerAvailable(image: string): Promise<{ ok: true } | { ok: false; why: string }> {
  // Questions about this machine, not work of a drill: not recorded.
  const ask = (args: string[]) => runCommand('docker', args, {}, { allowFailure: true });
  const info = await ask(['info', '--format', '{{.ServerVersion}}']);
  if (info.exitCode !== 0) {
    const why = info.exitCode === null ? 'docker is not on PATH' : info.stderr.trim().split('\n')[0];
    return { ok: false, why: `engine: docker needs a Docker engine, and none answered (${why}): start dockerd, check DOCKER_HOST, or use engine: native` };
  }
  if ((await ask(['image', 'inspect', '--format', '{{.Id}}', image])).exitCode !== 0) {
    return { ok: false, why: `image ${image} is not present (${image === REDIS_IMAGE ? 'build it: scripts/docker/build-local-image.sh' : 'pull or build it first: the harness never pulls'})` };
  }
  const server = await ask(['run', '--rm', '--pull', 'never', '--entrypoint', 'redis-server', image, '--version']);
  if (server.exitCode !== 0) {
    return { ok: false, why: `image ${image} has no redis-server (${server.stderr.trim().split('\n')[0]}): an image built before it had Redis is rebuilt with scripts/docker/build-local-image.sh --force` };
  }
  return { ok: true };
}

export class RedisContainer extends RedisServer {
  protected readonly where: string;
  /** Each start's container is named anew: a name Docker still holds cannot block the next start. */
  private readonly prefix: string;
  private starts = 0;
  /** The container of the current start, until it is removed. */
  private name: string | undefined;

  constructor(
    ctx: CommandContext,
    port: number,
    workDir: string,
    logFile: string,
    aof: boolean,
    private readonly image: string,
    private readonly part: string,
    private readonly runId: string,
  ) {
    super(ctx, port, workDir, logFile, aof);
    this.where = `container of ${image}`;
    this.prefix = `restore-drill-redis-${part}-${randomBytes(4).toString('hex')}`;
  }

  protected settings(): string[] {
    // Docker's port proxy connects from the container's network, not from its loopback; only the host's 127.0.0.1 is published.
    return ['bind 0.0.0.0', 'protected-mode no', 'daemonize no'];
  }

  protected async launch(): Promise<void> {
    // Redis opens its log file for each line it writes: the file alone is mounted, not the run's folder; it must exist to be.
    await appendFile(this.logFile, '');
    // Named before `docker run`: a stop meanwhile (Ctrl-C) finds it once Docker made it; one made later is the leftover sweep's.
    this.name = `${this.prefix}-${++this.starts}`;
    await runCommand(
      'docker',
      [
        'run', '-d', '--name', this.name, ...labels(this.runId, `redis-${this.part}`, this.workDir), '--user', '0', '--pull', 'never',
        '-p', `127.0.0.1:${this.port}:${this.port}`, ...mounts([this.dataDir, this.logFile]), '-v', `${this.conf}:${this.conf}:ro`,
        '--entrypoint', 'redis-server', this.image, this.conf,
      ],
      this.ctx,
      { tool: this.tool },
    );
  }

  protected async state(): Promise<'starting' | 'running' | 'gone'> {
    if (!this.name) return 'gone';
    // Asked every 50 ms while it loads: a question, not work of the drill, so not recorded.
    const inspect = await runCommand('docker', ['inspect', '--format', '{{.State.Running}}', this.name], {}, { allowFailure: true });
    return inspect.stdout.trim() === 'true' ? 'running' : 'gone';
  }

  protected async ended(timeoutMs: number): Promise<boolean> {
    return (await runCommand('docker', ['wait', this.name!], this.ctx, { allowFailure: true, timeoutMs })).exitCode === 0;
  }

  protected async release(): Promise<void> {
    const name = this.name;
    this.name = undefined;
    if (!name) return;
    const removed = await runCommand('docker', ['rm', '-f', name], this.ctx, { allowFailure: true });
    // A container `docker run` could not create is not there; any other failure leaves one behind, which must be heard of.
    if (removed.exitCode !== 0 && !/No such container/i.test(removed.stderr)) throw new Error(`docker rm -f ${name} failed, the container is left: ${removed.stderr.trim()}`);
  }

  async kill(): Promise<void> {
    if (this.name) await runCommand('docker', ['kill', '--signal', 'KILL', this.name], this.ctx, { allowFailure: true });
    await this.release();
  }

  protected runCli(args: readonly string[], options: CommandOptions): Promise<CommandResult> {
    if (!this.name) throw new Error(`redis-cli ${args.join(' ')}: no Redis container runs`);
    return runCommand('docker', ['exec', this.name, 'redis-cli', '-p', String(this.port), ...args], this.ctx, options);
  }

  /** In a short-lived container of the image, on the part's folder (data and backups) at its host path; -i when it is answered on stdin. */
  run(file: RedisTool, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    const interactive = options.input === undefined ? [] : ['-i'];
    return runCommand(
      'docker',
      ['run', '--rm', ...interactive, ...labels(this.runId, `redis-${this.part}-tool`, this.workDir), '--user', '0', '--pull', 'never', ...mounts([this.workDir]), '--entrypoint', file, this.image, ...args],
      this.ctx,
      { tool: this.tool, ...options },
    );
  }

  /** The log file, and what Redis said before it opened it (a setting it refuses), which goes to the container's output. */
  override async logTail(): Promise<string> {
    const file = await super.logTail();
    if (!this.name) return file;
    const logs = await runCommand('docker', ['logs', '--tail', '4', this.name], {}, { allowFailure: true });
    const said = `${logs.stdout}${logs.stderr}`.trim();
    return said ? `${file}\n${said}` : file;
  }
}
