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

export interface DatabaseState {
  database: string;
  /** When it was taken, as the checks name it: "the backup", "the moment before the bad write". */
  label: string;
  /** Set when the database itself could not be reached. */
  unreachable?: string;
  tables: Record<string, TableState | { error: string }>;
  objects: {
    tables: string[];
    indexes: string[];
    constraints: string[];
    sequences: Record<string, SequenceState>;
  };
}
