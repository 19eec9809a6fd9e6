/**
 * What a database holds, as the checks compare it: per table its row count,
 * content fingerprint and latest timestamp, and every table, index,
 * constraint and sequence. Taken at the backup (or the moment a correct
 * recovery must bring back) and again after recovery.
 */
import { z } from 'zod';

const tableStateSchema = z.strictObject({
  rows: z.number(),
  /**
   * Sum of a 64-bit hash of every row's text form: independent of row order
   * and physical layout, and one sequential scan (string_agg over all rows
   * does not scale; this does).
   */
  fingerprint: z.string(),
  latest: z.string().nullable().optional(),
});
export type TableState = z.output<typeof tableStateSchema>;


export interface SequenceState {
  table: string;
  column: string;
  lastValue: number;
  maxValue: number | null;
}

/** What a database holds in TimescaleDB's terms (pg/timescaledb.ts reads it). */
export interface TimescaleState {
  /** The extension version installed in the database. */
  version: string;
  /** timescaledb.restoring for new sessions: on after timescaledb_pre_restore() until timescaledb_post_restore(). */
  restoring: string;
  hypertables: Record<
    string,
    { dimensions: string[]; compression: boolean; chunks: number; compressedChunks: number; compressedRows: number }
  >;
  /** Each continuous aggregate: what it holds, and the same query computed afresh over the data it summarises. */
  aggregates: Record<string, { materializedOnly: boolean; rows: number; fingerprint: string; freshRows: number; freshFingerprint: string }>;
  /** Each policy or job, with its schedule and configuration. */
  jobs: string[];
}

/** TimescaleDB's state as a dump's own catalog records it: what a restore of it must bring back. */
export interface DumpedTimescale {
  /** Each of the team's hypertables (schema.table), with its chunks and how many of them were compressed. */
  hypertables: Record<string, { chunks: number; compressedChunks: number }>;
  /** Each continuous aggregate's view (schema.view). */
  aggregates: string[];
  /** How many jobs and policies the team had (ids from 1000; below are TimescaleDB's own). */
  jobs: number;
}

export interface DatabaseState {
  database: string;
  /** When it was taken, as the checks name it: "the backup", "the moment before the bad write". */
  label: string;
  /** Set when the database itself could not be reached. */
  unreachable?: string;
  tables: Record<string, TableState | { error: string }>;
  /** Present when the database has the timescaledb extension. */
  timescale?: TimescaleState;
  /** Set when the database has TimescaleDB state that could not be read. */
  timescaleError?: string;
  objects: {
    tables: string[];
    indexes: string[];
    constraints: string[];
    sequences: Record<string, SequenceState>;
    /** Every object by its definition ("index candles.candles_ts_idx" → CREATE INDEX ...). */
    definitions: Record<string, string>;
  };
}
