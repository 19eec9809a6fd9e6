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
        await this.client.query(`insert into ${LEDGER_TABLE} (seq) values ($1)`, [seq]);
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

/**
 * The ledger's sequence numbers after recovery. A database or ledger table
 * that does not exist held nothing that came back (an empty list); any other
 * failure to read is not a loss but an unknown, returned as the error.
 */
export async function readLedger(connect: () => Promise<pg.Client>): Promise<number[] | { error: string }> {
  let client: pg.Client;
  try {
    client = await connect();
  } catch (error) {
    if ((error as { code?: string }).code === '3D000') return []; // invalid_catalog_name: the database is gone
    return { error: `cannot connect to read the ledger: ${errorMessage(error)}` };
  }
  try {
    const { rows } = await client.query<{ seq: string }>(`select seq from ${LEDGER_TABLE} order by seq`);
    return rows.map((r) => Number(r.seq));
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return []; // undefined_table
    return { error: errorMessage(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}
