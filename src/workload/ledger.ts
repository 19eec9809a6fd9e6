/**
 * The workload that makes data loss measurable: numbered, timestamped rows
 * written to the ledger at a steady rate. Its own log of acknowledged commits
 * is the independent truth RPO is counted against after recovery.
 */
import type pg from 'pg';
import { LEDGER_TABLE } from '../dataset/schema.js';
import { errorMessage } from '../errors.js';
import type { WorkloadSummary } from '../model/journal.js';
import { now, type Instant } from '../support/clock.js';

export interface Commit {
  seq: number;
  /** When the server acknowledged the commit (client side). */
  at: Instant;
}


/** Who writes the ledger rows: the run and the drill. */
export interface LedgerIdentity {
  run: string;
  drill: string;
}

export class LedgerWorkload {
  readonly commits: Commit[] = [];
  private readonly errors: string[] = [];
  private inFlight?: number;
  private running = false;
  private loop?: Promise<void>;
  private nextSeq = 1;
  private pauseGate?: Promise<void>;
  private release?: () => void;
  private pausedAck?: () => void;

  constructor(
    private readonly client: pg.Client,
    readonly ratePerSecond: number,
    private readonly identity: LedgerIdentity,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const intervalMs = 1000 / this.ratePerSecond;
    let due = performance.now();
    while (this.running) {
      if (this.pauseGate) {
        this.pausedAck?.();
        await this.pauseGate;
        due = performance.now();
        continue;
      }
      const seq = this.nextSeq++;
      this.inFlight = seq;
      try {
        await this.client.query(`insert into ${LEDGER_TABLE} (run, drill, seq) values ($1, $2, $3)`, [this.identity.run, this.identity.drill, seq]);
        this.commits.push({ seq, at: now() });
        this.inFlight = undefined;
      } catch (error) {
        this.errors.push(`seq ${seq}: ${errorMessage(error)}`);
        this.running = false;
        break;
      }
      due += intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    this.pausedAck?.();
  }

  /**
   * Holds the writes after the one in flight is acknowledged, so a recovery
   * target can be marked between two known commits. Returns the first
   * sequence number not written yet: every commit before it precedes the mark.
   */
  async pause(): Promise<number> {
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
    await this.loop;
    await this.client.end().catch(() => undefined);
    return this.summary();
  }

  summary(): WorkloadSummary {
    return {
      ratePerSecond: this.ratePerSecond,
      committed: this.commits.length,
      firstSeq: this.commits[0]?.seq,
      lastSeq: this.commits.at(-1)?.seq,
      inFlightSeq: this.inFlight,
      errors: [...this.errors],
    };
  }
}

/** What the ledger holds after recovery: this drill's sequence numbers, and the rows of anyone else. */
export interface LedgerContents {
  own: number[];
  /** Rows written by another run or drill: data that is not this drill's, in this drill's database. */
  foreignRows: number;
  /** Who wrote them ("run <id> drill <name>"), at most a few. */
  foreignWriters: string[];
}

/**
 * The ledger after recovery. A database or ledger table that does not exist
 * held nothing that came back (an empty ledger); any other failure to read is
 * not a loss but an unknown, returned as the error.
 */
export async function readLedger(connect: () => Promise<pg.Client>, identity: LedgerIdentity): Promise<LedgerContents | { error: string }> {
  let client: pg.Client;
  try {
    client = await connect();
  } catch (error) {
    if ((error as { code?: string }).code === '3D000') return EMPTY; // invalid_catalog_name: the database is gone
    return { error: `cannot connect to read the ledger: ${errorMessage(error)}` };
  }
  try {
    const own = await client.query<{ seq: string }>(`select seq from ${LEDGER_TABLE} where run = $1 and drill = $2 order by seq`, [identity.run, identity.drill]);
    const foreign = await client.query<{ writer: string; n: string }>(
      `select 'run ' || run || ' drill ' || drill as writer, count(*) as n from ${LEDGER_TABLE}
        where (run, drill) <> ($1, $2) group by run, drill order by 2 desc`,
      [identity.run, identity.drill],
    );
    return {
      own: own.rows.map((r) => Number(r.seq)),
      foreignRows: foreign.rows.reduce((n, r) => n + Number(r.n), 0),
      foreignWriters: foreign.rows.slice(0, 3).map((r) => `${r.writer} (${r.n} rows)`),
    };
  } catch (error) {
    // undefined_table; undefined_column: a ledger of another shape (an older release's) holds none of this drill's rows.
    if ((error as { code?: string }).code === '42P01') return EMPTY;
    if ((error as { code?: string }).code === '42703') {
      const { rows } = await client.query<{ n: string }>(`select count(*) as n from ${LEDGER_TABLE}`);
      return { own: [], foreignRows: Number(rows[0]!.n), foreignWriters: ['a ledger without run and drill columns (another release wrote it)'] };
    }
    return { error: errorMessage(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

const EMPTY: LedgerContents = { own: [], foreignRows: 0, foreignWriters: [] };
