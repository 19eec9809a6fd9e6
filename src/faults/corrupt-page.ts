/**
 * A corrupt data page in a live table. The cluster has data checksums, so
 * the damage must be caught three ways: a read that fails its checksum,
 * pg_amcheck, and pg_checksums --check on the stopped cluster. The fault
 * reports what each detector said; checks/ judges whether they caught it.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { errorMessage, InternalError } from '../errors.js';
import type { Detection } from '../model/observations.js';
import { quoteIdent, withClient } from '../pg/client.js';
import { now } from '../support/clock.js';
import { flipBytes } from './corrupt-backup.js';
import { defineFault } from './fault.js';
import { table } from './table.js';

const PAGE = 8192;

const detail = z.strictObject({ table: z.string(), file: z.string(), block: z.number() });

declare module '../model/journal.js' {
  interface FaultDetails {
    'corrupt-page': z.output<typeof detail>;
  }
}

/** The tail of a command's complaint, in one line. */
function said(text: string): string {
  return text.split('\n').filter((line) => /checksum|invalid page|corrupt|error/i.test(line)).slice(0, 2).join(' | ') || text.split('\n')[0]!;
}

export const corruptPage = defineFault({
  type: 'corrupt-page',
  summary: 'bytes of one data page of a table flipped on disk (the cluster has data checksums)',
  schema: z.strictObject({ type: z.literal('corrupt-page'), table }),
  detail,
  requires: { capabilities: ['hostDataFiles'] },
  harm: () => 'table-damaged',
  damagedTable: (spec) => spec.table,
  label: (spec) => `corrupt-page ${spec.table}`,
  inject: async ({ instance, database }, spec) => {
    const dataDir = instance.dataDir;
    if (!dataDir) throw new InternalError('corrupt-page on an instance without host data files; it should have been refused at setup');
    const { path, blocks } = await withClient(
      () => instance.connect(database),
      async (client) =>
        (await client.query<{ path: string; blocks: string }>(`select pg_relation_filepath($1) as path, pg_relation_size($1) / ${PAGE} as blocks`, [spec.table])).rows[0]!,
    );
    const file = join(dataDir, path);
    const block = Math.max(0, Math.floor(Number(blocks) / 2));

    // A clean stop writes every page out; the damage then lands on disk, not in a cached copy.
    await instance.stop();
    // Past the page header: the checksum, not the header check, must catch it.
    await flipBytes(file, block * PAGE + PAGE / 2, 16);
    const at = now();

    const detectors: Record<string, Detection> = {};
    const offline = await instance.runPgTool('pg_checksums', ['--check', '--pgdata', dataDir], { allowFailure: true });
    detectors['pg_checksums --check'] = { caught: offline.exitCode !== 0, said: said(`${offline.stderr}\n${offline.stdout}`) };

    await instance.start();
    detectors['read'] = await withClient(
      () => instance.connect(database),
      async (reader) => {
        try {
          // Sequential scans bypass nothing: every page is read and its checksum verified.
          await reader.query(`select count(*) from ${quoteIdent(spec.table)}`);
          return { caught: false, said: 'the table read without error' };
        } catch (error) {
          return { caught: true, said: errorMessage(error) };
        }
      },
    );
    const amcheck = await instance.runPgTool('pg_amcheck', ['--install-missing', `--database=${database}`, `--table=${spec.table}`], { allowFailure: true });
    detectors['pg_amcheck'] = { caught: amcheck.exitCode !== 0, said: said(`${amcheck.stdout}\n${amcheck.stderr}`) };

    return {
      summary: `block ${block} of ${spec.table} corrupted on disk (${file})`,
      at,
      detail: { table: spec.table, file, block },
      observations: [{ kind: 'corruption-detectors', table: spec.table, block, file, detectors }],
    };
  },
});
