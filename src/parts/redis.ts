/**
 * The Redis part: a throwaway redis-server, backed up, struck and recovered
 * the way the runbook's Redis sections say (BGSAVE and cp of dump.rdb; cp of
 * the AOF; stop, copy back, redis-check-aof --fix, start).
 *
 * The runbook's own commands (redis-server, redis-cli BGSAVE, FLUSHALL and
 * SHUTDOWN, cp, redis-check-rdb, redis-check-aof) run through
 * exec/command.ts and land in the journal: on this host (engine: native), or
 * through docker (engine: docker, redis-container.ts), the cp's on the host
 * all the same, in the folders the containers mount. Seeding thousands of
 * keys, reading them back for the fingerprint and the writer's SETs (up to
 * 2000 a second, each with the moment it was acknowledged) go through
 * @redis/client, the core of the official node-redis: a redis-cli process per
 * command would cost a fork per key and could not time an acknowledgement.
 *
 * Redis 7 keeps the AOF as a folder (appendonlydir: a base file, incr files
 * and a manifest) where the runbook copies one appendonly.aof: the backup
 * copies the whole folder, and its checksum is a sha256 over its files' own.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { errorMessage } from '../errors.js';
import { runCommand, TOOL_TIMEOUT_MS, type CommandResult } from '../exec/command.js';
import type { IntegrityStep } from '../model/observations.js';
import type { PartBackup, PartRecovery, PartState, PartWrites } from '../model/parts.js';
import { registerCleanup } from '../support/cleanup.js';
import { now, sleep, type Instant } from '../support/clock.js';
import { identifier, oneOf, targetDuration } from '../support/fields.js';
import { freePort } from '../support/ports.js';
import { sha256File } from '../support/sha256.js';
import type { PartHost, PartInstance, PartModule } from './part.js';
import { readState, seedKeys, Writer } from './redis-data.js';
import { containerAvailable, REDIS_IMAGE, RedisContainer } from './redis-container.js';
import { connect, infoField, missingBinaries, NativeRedisServer, type RedisServer, withClient } from './redis-server.js';

const FAULTS = ['kill-server', 'lose-instance', 'flushall', 'truncate-aof', 'corrupt-aof', 'corrupt-rdb'] as const;
const BGSAVE_TIMEOUT_MS = 30 * 60_000;

const schema = z
  .strictObject({
    kind: z.literal('redis').describe("A Redis server beside the database (the runbook's cache and session store)."),
    name: identifier.default('redis').describe("The part's name in the report; each part of a drill has its own."),
    engine: oneOf(['native', 'docker'])
      .optional()
      .describe("Where redis-server and its tools run (default: the drill's engine; docker when an image is given): native, on this host (Debian's redis-server and redis-tools on PATH); docker, a container per start of the server and the tools in containers of `image`, on the part's folders (the host needs no Redis)."),
    image: z
      .string()
      .min(1)
      .optional()
      .describe(`engine: docker: the image with redis-server and redis-tools (default ${REDIS_IMAGE}, built by scripts/docker/build-local-image.sh from Debian's packages).`),
    persistence: oneOf(['rdb', 'aof'])
      .default('rdb')
      .describe('rdb: each backup is a BGSAVE, then dump.rdb copied; aof: appendonly yes, appendfsync everysec, and each backup copies the AOF folder as it is, while the writer writes.'),
    generations: z.int().min(1).max(5).default(1).describe('Backups taken one after the other; the recovery falls back to the one before when the newest fails its checks.'),
    keys: z
      .int()
      .min(1)
      .max(1_000_000)
      .default(2000)
      .describe('Seeded keys: price:<SYM> strings, book:<SYM> order-book hashes, session:<id> hashes with a TTL; the same seed gives the same keys. The restore must bring them all back, equal, TTLs included (read with EXPIRETIME: Redis 7 or later).'),
    writeRate: z.int().min(0).max(2000).default(50).describe('Numbered SETs (w:<seq>) a second, from before the first backup until after the fault; the data loss is counted on them (0: no writer).'),
    fault: z
      .strictObject({
        type: oneOf(FAULTS).describe(
          'kill-server: SIGKILL, its data folder kept; the recovery is a restart on its own files (RDB: the last snapshot; AOF: the live AOF, whose everysec loss is measured). lose-instance: SIGKILL and its data folder removed. flushall: FLUSHALL; it keeps running, and taking writes, until the recovery stops it. truncate-aof: the newest backup copied an AOF whose last record is cut short (as a cp of a live AOF can), then the instance is lost. corrupt-aof: the AOF the newest backup copied has a damaged record mid-file (a bad disk under a running Redis: the copy and its checksum carry it), then the instance is lost. corrupt-rdb: the newest RDB backup is damaged after it was taken (bytes flipped in storage), then the instance is lost.',
        ),
      })
      .describe('What breaks.'),
    repair: z
      .boolean()
      .default(true)
      .describe('aof: run redis-check-aof --fix on the copied-back AOF, as the runbook says (it cuts the AOF at its first bad record, and everything after); false: an AOF that fails redis-check-aof is not used.'),
    targets: z
      .strictObject({
        rto: targetDuration.describe("From the fault to this part recovered and verified (e.g. '5m')."),
        rpo: targetDuration.describe("The window of acknowledged writes it may lose (e.g. '1h')."),
      })
      .optional()
      .describe("This part's own targets."),
  })
  .superRefine((spec, ctx) => {
    if (spec.image !== undefined && spec.engine === 'native') ctx.addIssue({ code: 'custom', path: ['image'], message: 'image is the image of engine: docker; this part has engine: native' });
    const needs = spec.fault.type === 'corrupt-rdb' ? 'rdb' : spec.fault.type.endsWith('-aof') ? 'aof' : undefined;
    if (needs && spec.persistence !== needs) {
      ctx.addIssue({ code: 'custom', path: ['fault', 'type'], message: `fault ${spec.fault.type} damages ${needs === 'aof' ? 'an AOF' : 'an RDB snapshot'}, so it needs persistence: ${needs} (this part has persistence: ${spec.persistence})` });
    }
  });

export type RedisPartSpec = z.output<typeof schema>;

/** The instance: it always has a writer, and gives its port (a test plays a restore that lies on it). */
export interface RedisInstance extends PartInstance {
  readonly port: number;
  startWrites(): Promise<void>;
  stopWrites(): Promise<void>;
  writes(fault: Instant): Promise<PartWrites | { unread: string }>;
}

export const redisPart: PartModule<RedisPartSpec> = {
  kind: 'redis',
  summary:
    "A throwaway redis-server (Debian's, native or in Docker) seeded with market-data keys and a writer of numbered keys: backed up by BGSAVE and a copy of dump.rdb, or a copy of the AOF (everysec); recovered by stopping it, putting the newest backup that passes sha256 and redis-check-rdb/-aof back (redis-check-aof --fix where the runbook says so) and starting it; verified key by key against the backup, the lost writes counted.",
  schema,
  async available(spec, engine) {
    if (spec && engineOf(spec, engine) === 'docker') return containerAvailable(spec.image ?? REDIS_IMAGE);
    const missing = missingBinaries();
    return missing.length === 0 ? { ok: true } : { ok: false, why: `${missing.join(', ')} not on PATH (install the redis-server package: apt-get install redis-server)` };
  },
  start: startRedis,
};

/** Where it runs: as the part says, else in Docker when it names an image, else as the drill's database does. */
function engineOf(spec: RedisPartSpec, drill: PartHost['engine'] = 'native'): PartHost['engine'] {
  return spec.engine ?? (spec.image === undefined ? drill : 'docker');
}

export async function startRedis(host: PartHost, spec: RedisPartSpec): Promise<RedisInstance> {
  const args = [host.commands, await freePort(), host.workDir, join(host.logDir, `redis-${spec.name}.log`), spec.persistence === 'aof'] as const;
  const server = engineOf(spec, host.engine) === 'docker' ? new RedisContainer(...args, spec.image ?? REDIS_IMAGE, spec.name, host.runId) : new NativeRedisServer(...args);
  const unregister = registerCleanup(() => server.stop());
  try {
    await server.start();
  } catch (error) {
    await server.stop();
    unregister();
    throw error;
  }
  return new Redis(host, spec, server, unregister);
}

const RDB_WALK = /AUX FIELD|Checking RDB file|^Start (checking|to check)|RDB preamble is OK/;
/** redis-check-aof's verdict on a sound base file and sound parts: what is left is about the damage. */
const AOF_SOUND = /^\[info\]|Checksum OK|RDB looks OK|diff=0$|^BASE AOF .* is valid$/;

/** A Redis tool's verdict in its own words, without its walk through the RDB preamble (and, for AOF, the parts it found sound). */
function words(result: CommandResult, aof = false): string {
  return `${result.stdout}\n${result.stderr}`
    .split('\n')
    .map((line) => line.replace('Continue? [y/N]: ', '').replace(/\s+/g, ' ').trim())
    .filter((line) => line && !RDB_WALK.test(line) && !(aof && AOF_SOUND.test(line)))
    .slice(-5)
    .join('; ');
}

/** sha256sum over a folder: one line per file, sorted, hashed again. A single file is its own sha256. */
async function digest(path: string): Promise<{ sha256: string; sizeBytes: number }> {
  const info = await stat(path);
  if (!info.isDirectory()) return { sha256: await sha256File(path), sizeBytes: info.size };
  const whole = createHash('sha256');
  let sizeBytes = 0;
  for (const name of (await readdir(path)).sort()) {
    whole.update(`${await sha256File(join(path, name))}  ${name}\n`);
    sizeBytes += (await stat(join(path, name))).size;
  }
  return { sha256: whole.digest('hex'), sizeBytes };
}

/** The last incr file of a multi-part AOF folder: where the newest writes are. */
async function lastIncr(folder: string): Promise<string> {
  const manifest = await readFile(join(folder, 'appendonly.aof.manifest'), 'utf8');
  const name = [...manifest.matchAll(/^file (\S+) seq \d+ type i$/gm)].at(-1)?.[1];
  if (!name) throw new Error(`no incr file in ${join(folder, 'appendonly.aof.manifest')}`);
  return join(folder, name);
}

/** A backup file opened for the damage a fault puts in it. */
async function inPlace<T>(path: string, damage: (file: FileHandle, size: number) => Promise<T>): Promise<T> {
  const file = await open(path, 'r+');
  try {
    return await damage(file, (await file.stat()).size);
  } finally {
    await file.close();
  }
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const { buffer, bytesRead } = await file.read(Buffer.alloc(length), 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/** The damage truncate-aof and corrupt-aof put into the AOF the newest backup copies; says what it did. */
async function damageAof(folder: string, type: 'truncate-aof' | 'corrupt-aof'): Promise<string> {
  const incr = await lastIncr(folder);
  const window = 64 * 1024;
  return inPlace(incr, async (file, size) => {
    if (type === 'truncate-aof') {
      // Half-way through the last record: a cut at a record's boundary would leave a valid, shorter AOF.
      const from = Math.max(0, size - window);
      const record = from + (await readAt(file, from, size - from)).lastIndexOf('\n*') + 1;
      const cut = record + Math.floor((size - record) / 2);
      await file.truncate(cut);
      return `the AOF the newest backup copied ends mid-record: ${basename(incr)} cut from ${size} to ${cut} bytes`;
    }
    // A command's leading '*' overwritten, half-way into the file: Redis refuses the file from there on.
    const at = (await readAt(file, Math.floor(size / 2), window)).indexOf('\n*');
    if (at < 0) throw new Error(`no record to damage in the second half of ${incr}`);
    const offset = Math.floor(size / 2) + at + 1;
    await file.write(Buffer.from('X'), 0, 1, offset);
    return `the AOF the newest backup copied has a damaged record: byte ${offset} of ${basename(incr)} (${size} bytes), a command's '*', overwritten`;
  });
}

/** corrupt-rdb: 16 bytes in the middle of the newest RDB backup flipped, as storage rots after the backup. */
function flipRdb(path: string): Promise<string> {
  return inPlace(path, async (file, size) => {
    const offset = Math.floor(size / 2);
    const bytes = await readAt(file, offset, 16);
    await file.write(bytes.map((byte) => byte ^ 0xff), 0, bytes.length, offset);
    return `${bytes.length} bytes at offset ${offset} of the newest backup ${basename(path)} flipped after it was taken`;
  });
}

const stampOf = (date: Date) => date.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);

class Redis implements RedisInstance {
  private readonly backups: { backup: PartBackup; startMono: number }[] = [];
  private writer: Writer | undefined;
  /** The backup the recovery came back from: writes acknowledged after it started are what a perfect restore loses. */
  private used: { startMono: number } | undefined;
  /** The damage the newest AOF backup carries (truncate-aof, corrupt-aof), told at the strike. */
  private damage: string | undefined;

  constructor(
    private readonly host: PartHost,
    private readonly spec: RedisPartSpec,
    private readonly server: RedisServer,
    private readonly unregister: () => void,
  ) {}

  get port(): number {
    return this.server.port;
  }

  private get backupDir(): string {
    return join(this.host.workDir, 'backups');
  }

  async seed(): Promise<void> {
    await withClient(this.port, (client) => seedKeys(client, this.host.seed, this.spec.keys));
  }

  async startWrites(): Promise<void> {
    this.writer = new Writer(await connect(this.port), this.spec.writeRate);
    this.writer.start();
  }

  async stopWrites(): Promise<void> {
    await this.writer?.stop();
  }

  async backup(): Promise<{ backup: PartBackup; state: PartState }> {
    // The seeded keys do not change while the writer writes, so they are read first: reading a million of
    // them after the copy would widen the window between this backup and the fault by the reading time.
    const state = await withClient(this.port, readState);
    const started = now();
    const generation = this.backups.length + 1;
    await mkdir(this.backupDir, { recursive: true });
    const stamp = `${stampOf(new Date(started.wall))}_${generation}`;
    let path: string;
    let detail: Record<string, unknown>;
    if (this.spec.persistence === 'rdb') {
      path = join(this.backupDir, `dump_${stamp}.rdb`);
      detail = await this.bgsave(path);
    } else {
      // The runbook's cp of the AOF, as it is while the writer writes: the whole Redis 7 folder.
      path = join(this.backupDir, `appendonly_${stamp}`);
      await runCommand('cp', ['-r', join(this.server.dataDir, 'appendonlydir'), path], this.host.commands, { timeoutMs: TOOL_TIMEOUT_MS });
      const type = this.spec.fault.type;
      if (generation === this.spec.generations && (type === 'truncate-aof' || type === 'corrupt-aof')) this.damage = await damageAof(path, type);
      detail = { method: 'cp -r appendonlydir', files: await readdir(path), sha256: 'over the sorted "sha256  file" lines of its files', server: this.server.tool };
    }
    const backup: PartBackup = { path, ...(await digest(path)), takenAt: started.wall, detail };
    this.backups.push({ backup, startMono: started.mono });
    return { backup, state };
  }

  /** BGSAVE, then wait for it to finish (rdb_saves counts it at its fork; LASTSAVE has one-second steps, too coarse), then the runbook's cp. */
  private async bgsave(path: string): Promise<Record<string, unknown>> {
    const persistence = () => withClient(this.port, async (client) => String(await client.info('persistence')));
    const saves = Number(infoField(await persistence(), 'rdb_saves'));
    await this.server.cli(['BGSAVE'], /Background saving started/);
    const deadline = Date.now() + BGSAVE_TIMEOUT_MS;
    let info = await persistence();
    while (Number(infoField(info, 'rdb_saves')) <= saves || infoField(info, 'rdb_bgsave_in_progress') !== '0') {
      if (Date.now() > deadline) throw new Error(`BGSAVE did not finish within 30m: ${await this.server.logTail()}`);
      await sleep(50);
      info = await persistence();
    }
    if (infoField(info, 'rdb_last_bgsave_status') !== 'ok') throw new Error(`BGSAVE failed: ${await this.server.logTail()}`);
    await runCommand('cp', [join(this.server.dataDir, 'dump.rdb'), path], this.host.commands, { timeoutMs: TOOL_TIMEOUT_MS });
    return { method: 'BGSAVE', lastSave: Number(infoField(info, 'rdb_last_save_time')), bgsaveSeconds: Number(infoField(info, 'rdb_last_bgsave_time_sec')), server: this.server.tool };
  }

  async strike(): Promise<{ at: Instant; summary: string }> {
    const type = this.spec.fault.type;
    if (type === 'flushall') {
      await this.server.cli(['FLUSHALL'], /OK/);
      return { at: now(), summary: 'FLUSHALL emptied the server; it keeps running, and taking writes, until the recovery stops it' };
    }
    if (type === 'kill-server') {
      await this.server.kill();
      return { at: now(), summary: 'redis-server killed (SIGKILL), its data folder intact' };
    }
    const damage = type === 'corrupt-rdb' ? await flipRdb(this.backups.at(-1)!.backup.path) : this.damage;
    await this.server.kill();
    const at = now();
    await rm(this.server.dataDir, { recursive: true, force: true });
    return { at, summary: `${damage ? `${damage}; then ` : ''}the instance was lost: redis-server killed (SIGKILL) and its data folder removed` };
  }

  /** The runbook: stop Redis, copy the newest backup that passes its checks back, (AOF) redis-check-aof --fix, start Redis. */
  async recover(): Promise<PartRecovery> {
    const integrity: IntegrityStep[] = [];
    let usedBackup: string | undefined;
    try {
      await this.server.stop();
      // A crashed server comes back on its own files, as the runbook's `systemctl start redis` would: no backup is copied.
      if (this.spec.fault.type === 'kill-server') {
        await this.server.start();
        return { ok: true, integrity };
      }
      for (const candidate of [...this.backups].reverse()) {
        const { path, sha256 } = candidate.backup;
        const found = (await digest(path)).sha256;
        integrity.push({ check: 'sha256', ok: found === sha256, detail: `${basename(path)}: ${found}${found === sha256 ? ', as at the backup' : `, not ${sha256} as at the backup`}` });
        if (found !== sha256) continue;
        const restored = this.spec.persistence === 'rdb' ? await this.restoreRdb(path, integrity) : await this.restoreAof(path, integrity);
        if (!restored) continue;
        usedBackup = path;
        await this.server.start();
        this.used = candidate;
        return { ok: true, integrity, usedBackup, ...(restored.repair ? { repair: restored.repair } : {}) };
      }
      const failed = integrity.filter((step) => !step.ok).at(-1);
      return { ok: false, error: failed ? `no backup passed its checks; the last failed ${failed.check}: ${failed.detail}` : 'no backup was taken', integrity };
    } catch (error) {
      return { ok: false, error: errorMessage(error), integrity, ...(usedBackup ? { usedBackup } : {}) };
    }
  }

  private async restoreRdb(path: string, integrity: IntegrityStep[]): Promise<{ repair?: PartRecovery['repair'] } | undefined> {
    const check = await this.server.run('redis-check-rdb', [path], { allowFailure: true, timeoutMs: TOOL_TIMEOUT_MS });
    integrity.push({ check: 'redis-check-rdb', ok: check.exitCode === 0, detail: `${basename(path)}: ${words(check)}` });
    if (check.exitCode !== 0) return undefined;
    await mkdir(this.server.dataDir, { recursive: true });
    await runCommand('cp', [path, join(this.server.dataDir, 'dump.rdb')], this.host.commands, { timeoutMs: TOOL_TIMEOUT_MS });
    return {};
  }

  /** Copied back first, then checked in place, as the runbook orders it; a copy that fails is removed. */
  private async restoreAof(path: string, integrity: IntegrityStep[]): Promise<{ repair?: PartRecovery['repair'] } | undefined> {
    const target = join(this.server.dataDir, 'appendonlydir');
    await rm(target, { recursive: true, force: true });
    await mkdir(this.server.dataDir, { recursive: true });
    await runCommand('cp', ['-r', path, target], this.host.commands, { timeoutMs: TOOL_TIMEOUT_MS });
    const manifest = join(target, 'appendonly.aof.manifest');
    const options = { allowFailure: true, timeoutMs: TOOL_TIMEOUT_MS };
    // --fix asks before it cuts: the runbook's operator answers y.
    const fix = this.spec.repair ? await this.server.run('redis-check-aof', ['--fix', manifest], { ...options, input: 'y\n' }) : undefined;
    const check = await this.server.run('redis-check-aof', [manifest], options);
    const fixFailed = fix && fix.exitCode !== 0 ? ` (redis-check-aof --fix failed: ${words(fix, true)})` : '';
    integrity.push({ check: 'redis-check-aof', ok: check.exitCode === 0, detail: `${basename(path)}${fix ? ' after --fix' : ''}: ${words(check, true)}${fixFailed}` });
    if (check.exitCode !== 0) {
      await rm(target, { recursive: true, force: true });
      return undefined;
    }
    return fix && /truncated/i.test(fix.stdout) ? { repair: { tool: 'redis-check-aof --fix', detail: words(fix, true) } } : {};
  }

  async read(): Promise<PartState | { unreachable: string }> {
    try {
      return await withClient(this.port, readState);
    } catch (error) {
      return { unreachable: `127.0.0.1:${this.port}: ${errorMessage(error)}` };
    }
  }

  async writes(fault: Instant): Promise<PartWrites | { unread: string }> {
    const writer = this.writer;
    if (!writer) return { unread: 'no writer ran' };
    try {
      return await withClient(this.port, (client) => writer.compare(client, fault.mono, (this.used ?? this.backups.at(-1))?.startMono));
    } catch (error) {
      return { unread: `127.0.0.1:${this.port}: ${errorMessage(error)}` };
    }
  }

  async dispose(keep: boolean): Promise<void> {
    await this.writer?.stop();
    await this.server.stop();
    this.unregister();
    if (keep) return;
    for (const made of [...this.server.made, this.backupDir]) await rm(made, { recursive: true, force: true });
  }
}
