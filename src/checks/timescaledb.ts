/**
 * The timescaledb check, run whenever the source had the extension: a restore
 * that brings back the rows but loses TimescaleDB's own state (a hypertable
 * turned into a plain table, chunks no longer compressed, a continuous
 * aggregate gone or stale, policies missing, the database left in restore
 * mode) must not pass. Each problem is named. Besides the two snapshots it
 * probes the restored database: the scheduler runs, a rolled-back insert
 * lands in a chunk, every aggregate can be refreshed.
 */
import type pg from 'pg';
import { errorMessage } from '../errors.js';
import type { DatabaseState, DumpedTimescale, TimescaleState } from '../model/snapshot.js';
import type { CheckResult } from '../model/verdict.js';
import { withClient } from '../pg/client.js';
import { jobRunsSince, probeInsert, schedulerRunning, timescaleState } from '../pg/timescaledb.js';
import { sleep } from '../support/clock.js';

export interface TimescaleExpectations {
  /** The version the recovery meant to leave (a dump restored at its own version, then updated); default: the source's. */
  version?: string;
  /** When recovery ended: jobs that ran since are named (a retention policy deleting restored rows). */
  recoveredAt?: string;
}

function compare(expected: TimescaleState, found: TimescaleState, expectations: TimescaleExpectations): string[] {
  const problems: string[] = [];
  const version = expectations.version ?? expected.version;
  if (found.version !== version) problems.push(`extension version ${found.version}, expected ${version}`);
  if (found.restoring !== 'off') problems.push(`timescaledb.restoring is ${found.restoring}: timescaledb_post_restore() never ran`);
  for (const [name, want] of Object.entries(expected.hypertables)) {
    const got = found.hypertables[name];
    if (!got) {
      problems.push(`${name} is no longer a hypertable`);
      continue;
    }
    if (got.dimensions.join(', ') !== want.dimensions.join(', ')) problems.push(`${name} dimensions ${got.dimensions.join(', ')}, expected ${want.dimensions.join(', ')}`);
    if (got.chunks !== want.chunks) problems.push(`${name} has ${got.chunks} chunks, expected ${want.chunks}`);
    if (got.compression !== want.compression) problems.push(`${name} compression ${got.compression ? 'on' : 'off'}, expected ${want.compression ? 'on' : 'off'}`);
    if (got.compressedChunks !== want.compressedChunks) problems.push(`${name} has ${got.compressedChunks} compressed chunks, expected ${want.compressedChunks}`);
    if (got.compressedRows !== want.compressedRows) problems.push(`${name} holds ${got.compressedRows} rows in compressed chunks, expected ${want.compressedRows}`);
  }
  for (const [name, want] of Object.entries(expected.aggregates)) {
    const got = found.aggregates[name];
    if (!got) {
      problems.push(`continuous aggregate ${name} is missing`);
      continue;
    }
    if (got.rows !== want.rows || got.fingerprint !== want.fingerprint) problems.push(`continuous aggregate ${name} holds ${got.rows} rows unlike the ${want.rows} at the source`);
    const wasCurrent = want.rows === want.freshRows && want.fingerprint === want.freshFingerprint;
    if (wasCurrent && (got.rows !== got.freshRows || got.fingerprint !== got.freshFingerprint)) {
      problems.push(`continuous aggregate ${name} differs from the same aggregate computed afresh over the restored data (${got.rows} rows against ${got.freshRows})`);
    }
  }
  const jobs = new Set(found.jobs);
  for (const job of expected.jobs) if (!jobs.has(job)) problems.push(`job missing: ${job}`);
  return problems;
}

/** The live probes: the scheduler, where a new row lands, whether each aggregate refreshes. */
async function probe(client: pg.Client, expected: TimescaleState, recovered: TimescaleState, problems: string[], evidence: Record<string, unknown>): Promise<void> {
  // post_restore() restarts the scheduler; it may take a moment to appear.
  let scheduler = false;
  for (let i = 0; i < 20 && !scheduler; i++) {
    scheduler = await schedulerRunning(client);
    if (!scheduler) await sleep(250);
  }
  evidence.schedulerRunning = scheduler;
  if (Object.keys(expected.jobs).length > 0 && !scheduler) problems.push('no background-worker scheduler runs for the database: its jobs will never run');
  const landed: Record<string, string> = {};
  for (const name of Object.keys(recovered.hypertables)) {
    try {
      const probed = await probeInsert(client, name);
      if ('unprobed' in probed) {
        landed[name] = `not probed: ${probed.unprobed}`;
        problems.push(`a new row of ${name} could not be probed: ${probed.unprobed}`);
      } else {
        landed[name] = probed.landed;
        if (!/_hyper_\d+_\d+_chunk/.test(probed.landed)) problems.push(`a new row of ${name} lands in ${probed.landed}, not in a chunk`);
      }
    } catch (error) {
      landed[name] = `insert failed: ${errorMessage(error)}`;
      problems.push(`a new row of ${name} cannot be inserted: ${errorMessage(error)}`);
    }
  }
  evidence.probeInsert = landed;
  const refreshed: Record<string, string> = {};
  for (const name of Object.keys(recovered.aggregates)) {
    try {
      await client.query('call refresh_continuous_aggregate($1, null, null)', [name]);
      refreshed[name] = 'refreshed';
    } catch (error) {
      refreshed[name] = errorMessage(error);
      problems.push(`continuous aggregate ${name} cannot be refreshed: ${errorMessage(error)}`);
    }
  }
  evidence.refreshed = refreshed;
}

/**
 * The same check for a backup made elsewhere, with no snapshot of the source:
 * what the dump's own catalog records (its hypertables with their chunks and
 * compressed chunks, its continuous aggregates, how many jobs) must be in the
 * restored database, at the version the restore meant to leave, out of
 * restore mode, with the live probes. Never throws.
 */
export async function timescaleAgainstDump(connect: () => Promise<pg.Client>, database: string, dumped: DumpedTimescale, version: string): Promise<CheckResult> {
  try {
    return await withClient(connect, async (client) => {
      const found = await timescaleState(client);
      if (!found) return { name: 'timescaledb', verdict: 'fail', summary: `the timescaledb extension is missing from ${database} (the dump was taken with ${version})`, evidence: { dumped } };
      const problems: string[] = [];
      if (found.version !== version) problems.push(`extension version ${found.version}, expected ${version}`);
      if (found.restoring !== 'off') problems.push(`timescaledb.restoring is ${found.restoring}: timescaledb_post_restore() never ran`);
      const bare = (qualified: string) => qualified.slice(qualified.indexOf('.') + 1);
      for (const [name, want] of Object.entries(dumped.hypertables)) {
        const got = found.hypertables[bare(name)];
        if (!got) problems.push(`${name} is no longer a hypertable`);
        else if (got.chunks !== want.chunks || got.compressedChunks !== want.compressedChunks) {
          problems.push(`${name} has ${got.chunks} chunks, ${got.compressedChunks} compressed; the dump holds ${want.chunks}, ${want.compressedChunks} compressed`);
        }
      }
      for (const name of dumped.aggregates) if (!found.aggregates[bare(name)]) problems.push(`continuous aggregate ${name} is missing`);
      if (found.jobs.length < dumped.jobs) problems.push(`${found.jobs.length} jobs scheduled; the dump holds ${dumped.jobs}`);
      const evidence: Record<string, unknown> = { dumped, found };
      await probe(client, { ...found, jobs: dumped.jobs ? found.jobs : [] }, found, problems, evidence);
      return {
        name: 'timescaledb',
        verdict: problems.length ? 'fail' : 'pass',
        summary: problems.length
          ? problems.join('; ')
          : `TimescaleDB ${found.version}: the dump's ${Object.keys(dumped.hypertables).length} hypertables with their chunks and compression, ` +
            `${dumped.aggregates.length} continuous aggregates refreshable, ${found.jobs.length} jobs scheduled; new rows land in chunks`,
        evidence,
      };
    });
  } catch (error) {
    return { name: 'timescaledb', verdict: 'unknown', summary: `TimescaleDB's state could not be read: ${errorMessage(error)}`, evidence: {} };
  }
}

/** The error a database gives when its catalog asks for a TimescaleDB library the server's binaries lack. */
const MISSING_LIBRARY = /could not access file "\$libdir\/timescaledb-([^"]+)"/;

/**
 * The same for a physical restore of a backup made elsewhere, with neither a
 * snapshot nor a dump's catalog to compare with: the restored cluster itself
 * says which TimescaleDB version each database's catalog asks for, and that
 * exact library must be in the restore target's binaries (`offered`, when the
 * engine can tell). Each database with the extension must then be out of
 * restore mode, read every hypertable whole through TimescaleDB (compressed
 * chunks decompressed), and pass the live probes. Undefined when no
 * database has TimescaleDB. Never throws.
 */
export async function timescaleOfCluster(connect: (database: string) => Promise<pg.Client>, offered: string[] | undefined): Promise<CheckResult | undefined> {
  const problems: string[] = [];
  const seen: string[] = [];
  const evidence: Record<string, unknown> = { offered: offered ?? null };
  try {
    const databases = await withClient(
      () => connect('postgres'),
      async (client) => (await client.query<{ name: string }>('select datname as name from pg_database where datallowconn and not datistemplate order by 1')).rows.map((r) => r.name),
    );
    for (const database of databases) {
      await withClient(
        () => connect(database),
        async (client) => {
          let found: TimescaleState | undefined;
          try {
            found = await timescaleState(client);
          } catch (error) {
            const version = MISSING_LIBRARY.exec(errorMessage(error))?.[1];
            if (!version) throw error;
            problems.push(
              `${database} uses TimescaleDB ${version} (its catalog asks for the library timescaledb-${version}), which the restore target's binaries do not have` +
                (offered ? ` (they offer ${offered.join(', ') || 'no TimescaleDB'})` : '') +
                `: a physical restore runs only on its own TimescaleDB version; restore with TimescaleDB ${version} installed`,
            );
            seen.push(`${database} (TimescaleDB ${version}, unreadable)`);
            return;
          }
          if (!found) return;
          const rows: Record<string, number> = {};
          const qualified = await client.query<{ name: string; sql: string }>(
            `select hypertable_name as name, format('%I.%I', hypertable_schema, hypertable_name) as sql
               from timescaledb_information.hypertables where hypertable_schema not like '\\_timescaledb%'`,
          );
          for (const { name, sql } of qualified.rows) {
            try {
              rows[name] = Number((await client.query<{ n: string }>(`select count(*) as n from ${sql}`)).rows[0]!.n);
            } catch (error) {
              problems.push(`${database}: ${sql} cannot be read whole through TimescaleDB: ${errorMessage(error)}`);
            }
          }
          if (found.restoring !== 'off') problems.push(`${database}: timescaledb.restoring is ${found.restoring}, as it was in the backup: timescaledb_post_restore() never ran`);
          const probed: Record<string, unknown> = {};
          const own: string[] = [];
          await probe(client, found, found, own, probed);
          problems.push(...own.map((p) => `${database}: ${p}`));
          evidence[database] = { found, rows, ...probed };
          const hypertables = Object.keys(found.hypertables);
          const chunks = Object.values(found.hypertables).reduce((sum, h) => sum + h.chunks, 0);
          const compressed = Object.values(found.hypertables).reduce((sum, h) => sum + h.compressedChunks, 0);
          seen.push(
            `${database} (TimescaleDB ${found.version}: ${hypertables.length} hypertables, ${chunks} chunks, ${compressed} compressed, ` +
              `${Object.values(rows).reduce((sum, n) => sum + n, 0)} rows read through TimescaleDB; ${Object.keys(found.aggregates).length} continuous aggregates refreshable, ${found.jobs.length} jobs scheduled)`,
          );
        },
      );
    }
  } catch (error) {
    return { name: 'timescaledb', verdict: 'unknown', summary: `TimescaleDB's state in the restored cluster could not be read: ${errorMessage(error)}`, evidence };
  }
  if (seen.length === 0) return undefined;
  return {
    name: 'timescaledb',
    verdict: problems.length ? 'fail' : 'pass',
    summary: problems.length ? problems.join('; ') : `every database with TimescaleDB loads it and reads whole: ${seen.join('; ')}; new rows land in chunks`,
    evidence,
  };
}

/** Never throws: what cannot be read is unknown, with the error. */
export async function timescaleCheck(
  connect: (database: string) => Promise<pg.Client>,
  expected: DatabaseState,
  recovered: DatabaseState,
  expectations: TimescaleExpectations,
): Promise<CheckResult | undefined> {
  if (expected.timescaleError) {
    return { name: 'timescaledb', verdict: 'unknown', summary: `TimescaleDB's state at the source could not be read: ${expected.timescaleError}`, evidence: {} };
  }
  const want = expected.timescale;
  if (!want) return undefined;
  if (recovered.unreachable) {
    return { name: 'timescaledb', verdict: 'fail', summary: `database "${recovered.database}" cannot be read: ${recovered.unreachable}`, evidence: {} };
  }
  const found = recovered.timescale;
  if (recovered.timescaleError) {
    return { name: 'timescaledb', verdict: 'unknown', summary: `TimescaleDB's state could not be read: ${recovered.timescaleError}`, evidence: {} };
  }
  if (!found) {
    return {
      name: 'timescaledb',
      verdict: 'fail',
      summary: `the timescaledb extension is missing from the restored database (the source had ${want.version})`,
      evidence: { expected: want },
    };
  }
  try {
    const problems = compare(want, found, expectations);
    const evidence: Record<string, unknown> = { expected: want, found };
    await withClient(
      () => connect(recovered.database),
      async (client) => {
        await probe(client, want, found, problems, evidence);
        if (expectations.recoveredAt) {
          const runs = await jobRunsSince(client, expectations.recoveredAt);
          evidence.jobRunsAfterRecovery = runs;
          // A policy that ran after the restore is the cause to name when chunks went missing, not a mystery.
          const retention = runs.filter((r) => r.startsWith('policy_retention'));
          if (retention.length && problems.some((p) => / has \d+ chunks, expected /.test(p))) {
            problems.push(`the restored jobs ran once the restore ended, among them a retention policy that drops chunks: ${retention.join('; ')}`);
          }
        }
      },
    );
    return {
      name: 'timescaledb',
      verdict: problems.length ? 'fail' : 'pass',
      summary: problems.length
        ? problems.join('; ')
        : `TimescaleDB ${found.version}: ${Object.keys(found.hypertables).length} hypertables with their chunks and compression, ` +
          `${Object.keys(found.aggregates).length} continuous aggregates current and refreshable, ${found.jobs.length} jobs scheduled; new rows land in chunks`,
      evidence,
    };
  } catch (error) {
    return { name: 'timescaledb', verdict: 'unknown', summary: `check crashed: ${errorMessage(error)}`, evidence: {} };
  }
}
