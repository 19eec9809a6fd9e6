/**
 * The workload that makes data loss measurable: at a steady rate, from one
 * or more connections, in one statement each, an order, a trade filling it, and a numbered ledger row
 * carrying the run and drill that wrote it. Its own log of acknowledged
 * commits is the independent truth RPO is counted against after recovery,
 * on the ledger and on each business table: a table dropped or damaged loses
 * the rows written to it after the backup, and that loss is counted too.
 */
import type pg from 'pg';
import { LEDGER_TABLE } from '../dataset/schema.js';
import { errorMessage } from '../errors.js';
import type { WorkloadSummary } from '../model/journal.js';
import { now, type Instant } from '../support/clock.js';

/** The business tables the workload writes, with the key each row gets. */
export const WRITTEN_TABLES = { orders: 'order_id', trades: 'trade_id' } as const;
export type WrittenTable = keyof typeof WRITTEN_TABLES;

export interface Commit {
  seq: number;
  /** The keys of the business rows written with it. */
  keys: Record<WrittenTable, number>;
  /** When the server acknowledged the commit (client side). */
  at: Instant;
}

/** Who writes the ledger rows: the run and the drill. */
export interface LedgerIdentity {
  run: string;
  drill: string;
}

/** One tick's writes, atomic as one statement: the order, its trade, the ledger row. */
const WRITE = `
with o as (
  insert into orders (symbol_id, account_id, side, order_type, quantity, limit_price, status, created_at)
  values ($4, $5, case when $3::bigint % 2 = 0 then 'buy' else 'sell' end, 'market', 1, null, 'filled', clock_timestamp())
  returning order_id),
t as (
  insert into trades (order_id, symbol_id, price, quantity, executed_at)
  select order_id, $4, 100, 1, clock_timestamp() from o returning trade_id),
l as (insert into ${LEDGER_TABLE} (run, drill, seq) values ($1, $2, $3))
select (select order_id from o) as order_id, (select trade_id from t) as trade_id`;

/**
 * One connection commits a few hundred durable transactions a second (each
 * waits for its WAL flush); more writers share the rate, and their commits
 * share flushes. The log stays exact: every commit is recorded when the server
 * acknowledged it, whichever writer sent it.
 */
const RATE_PER_WRITER = 150;
const MAX_WRITERS = 16;
/** Below this share of the asked rate, the workload says it fell behind. */
const BEHIND = 0.9;

export class LedgerWorkload {
  readonly commits: Commit[] = [];
  private readonly errors: string[] = [];
  private readonly inFlight = new Set<number>();
  private readonly clients: pg.Client[] = [];
  private running = false;
  private loops: Array<Promise<void>> = [];
  private nextSeq = 1;
  private startedAt?: number;
  private stoppedAt?: number;
  private pauseGate?: Promise<void>;
  private release?: () => void;
  private paused = 0;
  private pausedAck?: () => void;

  constructor(
    private readonly connect: () => Promise<pg.Client>,
    readonly ratePerSecond: number,
    private readonly identity: LedgerIdentity,
    /** How many symbols and accounts the dataset has: the business rows reference them. */
    private readonly dataset: { symbols: number; accounts: number },
  ) {}

  /** How many connections write: enough that the rate is reachable. */
  get writers(): number {
    return Math.min(MAX_WRITERS, Math.max(1, Math.ceil(this.ratePerSecond / RATE_PER_WRITER)));
  }

  /** Opens the writers' connections, then starts them all. */
  async start(): Promise<void> {
    for (let i = 0; i < this.writers; i++) this.clients.push(await this.connect());
    this.running = true;
    this.startedAt = performance.now();
    // Each writer keeps its share of the rate, the starts spread over one interval.
    const intervalMs = (1000 * this.clients.length) / this.ratePerSecond;
    this.loops = this.clients.map((client, i) => this.write(client, intervalMs, (i * intervalMs) / this.clients.length));
  }

  private async write(client: pg.Client, intervalMs: number, offsetMs: number): Promise<void> {
    let due = performance.now() + offsetMs;
    while (this.running) {
      if (this.pauseGate) {
        this.writerPaused();
        await this.pauseGate;
        due = performance.now();
        continue;
      }
      const wait = due - performance.now();
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        continue; // Paused or stopped meanwhile: look again before writing.
      }
      const seq = this.nextSeq++;
      this.inFlight.add(seq);
      try {
        const { rows } = await client.query<{ order_id: string; trade_id: string }>(WRITE, [
          this.identity.run,
          this.identity.drill,
          seq,
          (seq % this.dataset.symbols) + 1,
          (seq % this.dataset.accounts) + 1,
        ]);
        this.commits.push({ seq, keys: { orders: Number(rows[0]!.order_id), trades: Number(rows[0]!.trade_id) }, at: now() });
        this.inFlight.delete(seq);
      } catch (error) {
        this.errors.push(`seq ${seq}: ${errorMessage(error)}`);
        this.running = false;
        break;
      }
      // A writer that fell behind does not burst to catch up: the rate is a ceiling, and the summary says what was reached.
      due = Math.max(due + intervalMs, performance.now());
    }
    this.writerPaused();
  }

  private writerPaused(): void {
    this.paused++;
    if (this.paused >= this.clients.length) this.pausedAck?.();
  }

  /**
   * Holds the writes after the ones in flight are acknowledged, so a recovery
   * target can be marked between two known commits. Returns the first
   * sequence number not written yet: every commit before it precedes the mark.
   */
  async pause(): Promise<number> {
    this.paused = 0;
    this.pauseGate = new Promise<void>((resolve) => (this.release = resolve));
    if (this.running) await new Promise<void>((resolve) => (this.pausedAck = resolve));
    this.pausedAck = undefined;
    return this.nextSeq;
  }

  resume(): void {
    const release = this.release;
    this.pauseGate = undefined;
    this.release = undefined;
    release?.();
  }

  /** Stops writing; every write the log holds was acknowledged before this returns. */
  async stop(): Promise<WorkloadSummary> {
    this.running = false;
    this.resume();
    await Promise.all(this.loops);
    this.stoppedAt ??= performance.now();
    await Promise.all(this.clients.map((client) => client.end().catch(() => undefined)));
    return this.summary();
  }

  summary(): WorkloadSummary {
    // Until the last acknowledgement: writes that ended at the fault do not dilute the rate with the time after it.
    const end = this.commits.at(-1)?.at.mono ?? this.stoppedAt ?? performance.now();
    const seconds = this.startedAt === undefined ? 0 : (end - this.startedAt) / 1000;
    const achieved = seconds > 0 ? this.commits.length / seconds : 0;
    return {
      ratePerSecond: this.ratePerSecond,
      writers: this.clients.length,
      achievedPerSecond: Math.round(achieved * 10) / 10,
      ...(seconds > 1 && achieved < this.ratePerSecond * BEHIND
        ? { behind: `asked ${this.ratePerSecond} commits/s, reached ${Math.round(achieved)}/s with ${this.clients.length} writer(s): the server could not keep up` }
        : {}),
      committed: this.commits.length,
      firstSeq: this.commits[0]?.seq,
      lastSeq: this.commits.reduce((last, c) => Math.max(last, c.seq), 0) || undefined,
      inFlightSeqs: [...this.inFlight].sort((a, b) => a - b),
      errors: [...this.errors],
    };
  }
}

/** What the database holds after recovery of what the workload wrote, and of what someone else wrote. */
export interface LedgerContents {
  /** This drill's ledger sequence numbers. */
  own: number[];
  /** The business rows present, by table: the keys at or after the workload's first. */
  written: Record<WrittenTable, number[]>;
  /** Ledger rows written by another run or drill: data that is not this drill's, in this drill's database. */
  foreignRows: number;
  /** Who wrote them ("run <id> drill <name>"), at most a few. */
  foreignWriters: string[];
}

const EMPTY: LedgerContents = { own: [], written: { orders: [], trades: [] }, foreignRows: 0, foreignWriters: [] };

function code(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

/** The keys of a table from `first` on; a table that is gone holds none. */
async function keysFrom(client: pg.Client, table: WrittenTable, first: number | undefined): Promise<number[]> {
  if (first === undefined) return [];
  try {
    const column = WRITTEN_TABLES[table];
    const { rows } = await client.query<{ k: string }>(`select ${column} as k from ${table} where ${column} >= $1`, [first]);
    return rows.map((r) => Number(r.k));
  } catch (error) {
    if (code(error) === '42P01') return []; // undefined_table: dropped, and not restored
    throw error;
  }
}

/**
 * What came back. A database or ledger table that does not exist held nothing
 * (an empty ledger); any other failure to read is not a loss but an unknown,
 * returned as the error.
 */
export async function readLedger(
  connect: () => Promise<pg.Client>,
  identity: LedgerIdentity,
  commits: readonly Commit[],
): Promise<LedgerContents | { error: string }> {
  let client: pg.Client;
  try {
    client = await connect();
  } catch (error) {
    if (code(error) === '3D000') return EMPTY; // invalid_catalog_name: the database is gone
    return { error: `cannot connect to read the ledger: ${errorMessage(error)}` };
  }
  try {
    // Several writers: the first acknowledged commit need not hold the smallest key.
    const first = (table: WrittenTable) => (commits.length ? commits.reduce((min, c) => Math.min(min, c.keys[table]), Infinity) : undefined);
    const written = {
      orders: await keysFrom(client, 'orders', first('orders')),
      trades: await keysFrom(client, 'trades', first('trades')),
    };
    let own: number[];
    try {
      own = (await client.query<{ seq: string }>(`select seq from ${LEDGER_TABLE} where run = $1 and drill = $2 order by seq`, [identity.run, identity.drill])).rows.map((r) =>
        Number(r.seq),
      );
    } catch (error) {
      if (code(error) === '42P01') return { ...EMPTY, written }; // undefined_table
      if (code(error) === '42703') {
        // A ledger of another shape (an older release's) holds none of this drill's rows.
        const { rows } = await client.query<{ n: string }>(`select count(*) as n from ${LEDGER_TABLE}`);
        return { own: [], written, foreignRows: Number(rows[0]!.n), foreignWriters: ['a ledger without run and drill columns (another release wrote it)'] };
      }
      throw error;
    }
    const foreign = await client.query<{ writer: string; n: string }>(
      `select 'run ' || run || ' drill ' || drill as writer, count(*) as n from ${LEDGER_TABLE}
        where (run, drill) <> ($1, $2) group by run, drill order by 2 desc`,
      [identity.run, identity.drill],
    );
    return {
      own,
      written,
      foreignRows: foreign.rows.reduce((n, r) => n + Number(r.n), 0),
      foreignWriters: foreign.rows.slice(0, 3).map((r) => `${r.writer} (${r.n} rows)`),
    };
  } catch (error) {
    return { error: errorMessage(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}
