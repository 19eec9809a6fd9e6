/**
 * Faults that damage the live instance: a dropped table, a lost database, a
 * killed server.
 * Each returns what it did, for the journal.
 */
import type { Instance } from '../engines/instance.js';
import type { FaultSpec } from '../drill/spec.js';
import { quoteIdent } from '../checks/state.js';

export interface FaultResult {
  summary: string;
  detail: Record<string, unknown>;
}

async function dropTable(instance: Instance, database: string, table: string): Promise<FaultResult> {
  const client = await instance.connect(database);
  const notices: string[] = [];
  client.on('notice', (notice) => notices.push([notice.message, notice.detail].filter(Boolean).join(': ')));
  try {
    // CASCADE, as an operator's mistake would: dependent foreign keys go with it.
    await client.query(`drop table ${quoteIdent(table)} cascade`);
  } finally {
    await client.end();
  }
  return { summary: `DROP TABLE ${table} CASCADE on ${database}`, detail: { table, database, cascaded: notices } };
}

async function dropDatabase(instance: Instance, database: string): Promise<FaultResult> {
  const client = await instance.connect('postgres');
  try {
    await client.query(`drop database ${quoteIdent(database)} with (force)`);
  } finally {
    await client.end();
  }
  return { summary: `DROP DATABASE ${database} WITH (FORCE)`, detail: { database } };
}

async function killServer(instance: Instance): Promise<FaultResult> {
  await instance.kill();
  return { summary: `SIGKILL of the postmaster (${instance.kind}) while the workload writes`, detail: {} };
}

/** Faults that strike while the workload is still writing, rather than after it stopped. */
export function strikesMidWrite(fault: FaultSpec): boolean {
  return fault.type === 'kill-server';
}

export function injectFault(instance: Instance, database: string, fault: FaultSpec): Promise<FaultResult> {
  switch (fault.type) {
    case 'drop-table':
      return dropTable(instance, database, fault.table);
    case 'drop-database':
      return dropDatabase(instance, database);
    case 'kill-server':
      return killServer(instance);
  }
}
