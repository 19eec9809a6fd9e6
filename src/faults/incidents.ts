/**
 * The incidents that end several faults: the database dropped, or the whole
 * instance lost. A fault that damages a backup is followed by one of them,
 * because a damaged backup only matters when something needs it.
 */
import { z } from 'zod';
import type { Instance } from '../engines/types.js';
import { quoteIdent, withClient } from '../pg/client.js';
import { now, type Instant } from '../support/clock.js';

export const INCIDENTS = ['drop-database', 'lose-instance'] as const;
export type Incident = (typeof INCIDENTS)[number];

/** What an incident records, merged into its fault's facts. */
export const incidentDetail = { database: z.string().optional(), instance: z.string().optional() };

export interface IncidentOutcome {
  summary: string;
  at: Instant;
  detail: { database?: string; instance?: string };
}

export async function dropDatabase(instance: Instance, database: string): Promise<IncidentOutcome> {
  await withClient(
    () => instance.connect('postgres'),
    (client) => client.query(`drop database ${quoteIdent(database)} with (force)`),
  );
  return { summary: `DROP DATABASE ${database} WITH (FORCE)`, at: now(), detail: { database } };
}

/** The machine is gone: the server dies mid-write and its data folder with it. Backups and the WAL archive remain. */
export async function loseInstance(instance: Instance): Promise<IncidentOutcome> {
  // The moment of the damage is the kill, not the end of the cleanup after it.
  const at = now();
  await instance.lose();
  return { summary: `instance lost: the ${instance.kind} server killed mid-write and its data folder gone`, at, detail: { instance: instance.name } };
}

export function strike(incident: Incident, instance: Instance, database: string): Promise<IncidentOutcome> {
  return incident === 'lose-instance' ? loseInstance(instance) : dropDatabase(instance, database);
}
