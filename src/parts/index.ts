/** The parts of a whole system a drill restores beside the database. A new kind is one module and one line here. */
import { InternalError } from '../errors.js';
import { configFilesPart } from './config-files.js';
import type { PartModule } from './part.js';
import { redisPart } from './redis.js';
import { secretsPart } from './secrets.js';

export const PARTS = [redisPart, configFilesPart, secretsPart] as const;

/** What every `parts:` entry of a parsed drill file has, whatever its kind; the kind's module reads the rest. */
export interface PartSpec {
  kind: string;
  name: string;
  fault: { type: string };
  /** Backups taken, oldest first (a kind that keeps generations). */
  generations?: number;
  targets?: { rto: number; rpo: number };
}

export function partModule(kind: string): PartModule<PartSpec> {
  const found = PARTS.find((p) => p.kind === kind) as unknown as PartModule<PartSpec> | undefined;
  if (!found) throw new InternalError(`no part module for "${kind}"`);
  return found;
}
