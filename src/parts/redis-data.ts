/**
 * What the Redis part holds: the seeded market-data keys (the same seed gives
 * the same keys), their fingerprint read back from a server, and the writer of
 * numbered keys the data loss is counted on.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { streamFor } from '../dataset/prng.js';
import type { PartState, PartWrites } from '../model/parts.js';
import { waitWhile } from '../support/clock.js';
import type { RedisClient } from './redis-server.js';

/** Keys per pipelined round trip, when seeding and reading back. */
const BATCH = 1000;
/** Per-key hashes are recorded up to this many keys; beyond, the journal would grow by the key count. */
const PER_ITEM_LIMIT = 500;
/** 2100-01-01: sessions carry a TTL as in production, one that holds in every run and after any restore. */
const SESSION_EXPIRES_AT = 4_102_444_800;
/** Numbered writes are the writer's own keys; the fingerprint covers everything else. */
const WRITE_PREFIX = 'w:';

/** AAAA, AAAB, ...: a ticker-like name, unique per number. */
function symbol(n: number): string {
  let name = '';
  do {
    name = String.fromCharCode(65 + (n % 26)) + name;
    n = Math.floor(n / 26);
  } while (n > 0);
  return name.padStart(4, 'A');
}

/** `keys` keys, a quarter each price:<SYM> strings and book:<SYM> hashes, half session:<id> hashes. */
export async function seedKeys(client: RedisClient, seed: number, keys: number): Promise<void> {
  const random = streamFor(seed, 'redis');
  for (let from = 0; from < keys; from += BATCH) {
    const pending: Promise<unknown>[] = [];
    for (let i = from; i < Math.min(keys, from + BATCH); i++) {
      const n = Math.floor(i / 4);
      const mid = 5 + random() * 995;
      if (i % 4 === 0) pending.push(client.set(`price:${symbol(n)}`, mid.toFixed(2)));
      else if (i % 4 === 1) {
        const book: Record<string, string> = {};
        for (let level = 1; level <= 5; level++) {
          book[`bid${level}`] = `${(mid - level * 0.01).toFixed(2)}:${1 + Math.floor(random() * 5000)}`;
          book[`ask${level}`] = `${(mid + level * 0.01).toFixed(2)}:${1 + Math.floor(random() * 5000)}`;
        }
        pending.push(client.hSet(`book:${symbol(n)}`, book));
      } else {
        const id = `session:${(2 * n + (i % 4) - 2).toString(36).padStart(6, '0')}`;
        const session = { user: `u${Math.floor(random() * 100_000)}`, venue: ['XNAS', 'XNYS', 'BATS', 'ARCX'][Math.floor(random() * 4)]!, token: Math.floor(random() * 2 ** 48).toString(16) };
        pending.push(client.hSet(id, session), client.expireAt(id, SESSION_EXPIRES_AT));
      }
    }
    await Promise.all(pending);
  }
}

/**
 * Every key but the numbered writes, sorted, each hashed over its type, value
 * (GET, or HGETALL's fields sorted) and expiry (EXPIRETIME, the absolute
 * second, so a restore that drops or moves a session's TTL is seen; -1 for
 * none): no DUMP, whose bytes differ between Redis versions. Other types
 * count, by their type and expiry alone.
 */
export async function readState(client: RedisClient): Promise<PartState> {
  const names: string[] = [];
  for await (const batch of client.scanIterator({ COUNT: BATCH })) names.push(...batch.filter((name) => !name.startsWith(WRITE_PREFIX)));
  names.sort();
  const whole = createHash('sha256');
  const perItem: Record<string, string> = {};
  for (let from = 0; from < names.length; from += BATCH) {
    const batch = names.slice(from, from + BATCH);
    const types = await Promise.all(batch.map((name) => client.type(name)));
    const expiries = await Promise.all(batch.map((name) => client.sendCommand(['EXPIRETIME', name])));
    const values = await Promise.all(
      batch.map(async (name, i) => {
        if (types[i] === 'string') return (await client.get(name)) ?? '';
        if (types[i] !== 'hash') return '';
        return Object.entries(await client.hGetAll(name))
          .map(([field, value]) => `${field}=${String(value)}`)
          .sort()
          .join('\0');
      }),
    );
    batch.forEach((name, i) => {
      const item = createHash('sha256').update(`${String(types[i])}\0${String(expiries[i])}\0${values[i]}`).digest('hex');
      whole.update(`${name}\0${item}\n`);
      if (names.length <= PER_ITEM_LIMIT) perItem[name] = item;
    });
  }
  return { items: names.length, fingerprint: whole.digest('hex'), ...(names.length <= PER_ITEM_LIMIT ? { perItem } : {}) };
}

/**
 * SETs w:<seq> = <seq> at a steady rate on a connection of its own. Each
 * write's acknowledgement moment (performance.now(), the clock of
 * Instant.mono) sits at index seq of one growing Float64Array, NaN until
 * acknowledged: memory stays flat at thousands of writes a second.
 */
export class Writer {
  private acks = new Float64Array(4096).fill(Number.NaN);
  private sent = 0;
  private inflight = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly rate: number,
  ) {}

  start(): void {
    const started = performance.now();
    this.timer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) * this.rate) / 1000);
      for (; this.sent < due; this.sent++) {
        if (this.sent === this.acks.length) {
          const grown = new Float64Array(this.acks.length * 2).fill(Number.NaN);
          grown.set(this.acks);
          this.acks = grown;
        }
        const seq = this.sent;
        this.inflight++;
        this.client
          .set(`${WRITE_PREFIX}${seq}`, String(seq))
          .then(
            () => {
              this.acks[seq] = performance.now();
            },
            // Not acknowledged (the server is gone): stays NaN, and is counted as such.
            () => {},
          )
          .finally(() => this.inflight--);
      }
    }, 10);
  }

  /** Stops writing and waits (a little) for the answers to the writes in flight. Safe twice. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await waitWhile(() => this.inflight > 0, 5_000, 20);
    this.client.destroy();
  }

  /** Which writes came back (MGET in batches over every sequence number sent), against their acknowledgements. */
  async compare(client: RedisClient, faultMono: number, backupStartMono: number | undefined): Promise<PartWrites> {
    const counts = { acknowledged: 0, recovered: 0, lost: 0, unacknowledgedFound: 0, lossMs: 0, afterBackup: 0 };
    let firstLost = Number.POSITIVE_INFINITY;
    for (let from = 0; from < this.sent; from += BATCH) {
      const seqs = Array.from({ length: Math.min(BATCH, this.sent - from) }, (_, i) => from + i);
      const values = await client.mGet(seqs.map((seq) => `${WRITE_PREFIX}${seq}`));
      seqs.forEach((seq, i) => {
        const ack = this.acks[seq]!;
        const found = values[i] === String(seq);
        if (Number.isNaN(ack)) {
          if (found) counts.unacknowledgedFound++;
          return;
        }
        counts.acknowledged++;
        if (backupStartMono !== undefined && ack > backupStartMono) counts.afterBackup++;
        if (found) counts.recovered++;
        else {
          counts.lost++;
          firstLost = Math.min(firstLost, ack);
        }
      });
    }
    if (counts.lost > 0) counts.lossMs = Math.max(0, Math.round(faultMono - firstLost));
    return counts;
  }
}
