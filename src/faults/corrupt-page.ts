/**
 * A corrupt data page in a live table. The cluster has data checksums, so
 * the damage must be caught three ways: a read that fails its checksum,
 * pg_amcheck, and pg_checksums --check on the stopped cluster.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckResult } from '../drill/journal.js';
import type { Instance } from '../engines/instance.js';
import { errorMessage, UnsupportedError } from '../errors.js';
import { quoteIdent } from '../checks/state.js';

const PAGE = 8192;

export interface PageCorruption {
  file: string;
  block: number;
  detections: CheckResult;
}

/** The tail of a command's complaint, in one line. */
function said(text: string): string {
  return text.split('\n').filter((line) => /checksum|invalid page|corrupt|error/i.test(line)).slice(0, 2).join(' | ') || text.split('\n')[0]!;
}

export async function corruptPage(instance: Instance, database: string, table: string): Promise<PageCorruption> {
  if (!instance.dataDir) throw new UnsupportedError(`corrupt-page on the ${instance.kind} engine: the data folder is not reachable from the host`);
  const client = await instance.connect(database);
  const { rows } = await client
    .query<{ path: string; blocks: string }>(`select pg_relation_filepath($1) as path, pg_relation_size($1) / ${PAGE} as blocks`, [table])
    .finally(() => client.end());
  const file = join(instance.dataDir, rows[0]!.path);
  const block = Math.max(0, Math.floor(Number(rows[0]!.blocks) / 2));

  // A clean stop writes every page out; the damage then lands on disk, not in a cached copy.
  await instance.stop();
  const handle = await open(file, 'r+');
  try {
    const at = block * PAGE + PAGE / 2; // Past the page header: the checksum, not the header check, must catch it.
    const bytes = Buffer.alloc(16);
    await handle.read(bytes, 0, bytes.length, at);
    for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i]! ^ 0xff;
    await handle.write(bytes, 0, bytes.length, at);
  } finally {
    await handle.close();
  }

  const found: Record<string, { caught: boolean; said: string }> = {};
  const offline = await instance.runTool('pg_checksums', ['--check', '--pgdata', instance.dataDir], { allowFailure: true });
  found['pg_checksums --check'] = { caught: offline.exitCode !== 0, said: said(`${offline.stderr}\n${offline.stdout}`) };

  await instance.start();
  const reader = await instance.connect(database);
  try {
    // Sequential scans bypass nothing: every page is read and its checksum verified.
    await reader.query(`select count(*) from ${quoteIdent(table)}`);
    found['read'] = { caught: false, said: 'the table read without error' };
  } catch (error) {
    found['read'] = { caught: true, said: errorMessage(error) };
  } finally {
    await reader.end();
  }
  const amcheck = await instance.runTool('pg_amcheck', ['--install-missing', `--database=${database}`, `--table=${table}`], { allowFailure: true });
  found['pg_amcheck'] = { caught: amcheck.exitCode !== 0, said: said(`${amcheck.stdout}\n${amcheck.stderr}`) };

  const missed = Object.entries(found).filter(([, f]) => !f.caught).map(([name]) => name);
  return {
    file,
    block,
    detections: {
      name: 'corruption-detected',
      verdict: missed.length ? 'fail' : 'pass',
      summary: missed.length
        ? `the corrupt page (block ${block} of ${table}) went unnoticed by ${missed.join(', ')}`
        : `block ${block} of ${table} caught by ${Object.keys(found).join(', ')}: ${found['read']!.said}`,
      evidence: { file, block, detectors: found },
    },
  };
}
