/**
 * A corrupt data page in a live table. The cluster has data checksums, so
 * the damage must be caught three ways: a read that fails its checksum,
 * pg_amcheck, and pg_checksums --check on the stopped cluster. The fault
 * reports what each detector said; checks/ judges whether they caught it.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { errorMessage, FaultError, InternalError } from '../errors.js';
import type { Detection } from '../model/observations.js';
import { withClient } from '../pg/client.js';
import { installedVersion, rowHoldingRelation } from '../pg/timescaledb.js';
import { now } from '../support/clock.js';
import { flipBytes } from './corrupt-backup.js';
import { TOOL_TIMEOUT_MS } from '../exec/command.js';
import { defineFault } from './fault.js';
import { table } from './table.js';

const PAGE = 8192;

const detail = z.strictObject({
  table: z.string(),
  relation: z.string().describe('The relation damaged: the table, or the chunk of a hypertable that holds the most rows.'),
  file: z.string(),
  block: z.number(),
});

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
    const { relation, path, blocks } = await withClient(
      () => instance.connect(database),
      async (client) => {
        // A hypertable's own table is empty: the damage goes where its rows are.
        const timescale = (await installedVersion(client)) !== undefined;
        const relation = timescale ? await rowHoldingRelation(client, spec.table) : spec.table;
        const found = await client.query<{ path: string; blocks: string }>(
          `select pg_relation_filepath($1::regclass) as path, pg_relation_size($1::regclass) / ${PAGE} as blocks`,
          [relation],
        );
        return { relation, ...found.rows[0]! };
      },
    );
    if (Number(blocks) === 0) throw new FaultError(`corrupt-page: ${relation} has no data page to damage`);
    const file = join(dataDir, path);
    const block = Math.max(0, Math.floor(Number(blocks) / 2));

    // A clean stop writes every page out; the damage then lands on disk, not in a cached copy.
    await instance.stop();
    // Past the page header: the checksum, not the header check, must catch it.
    await flipBytes(file, block * PAGE + PAGE / 2, 16);
    const at = now();

    const detectors: Record<string, Detection> = {};
    const offline = await instance.runPgTool('pg_checksums', ['--check', '--pgdata', dataDir], { allowFailure: true, timeoutMs: TOOL_TIMEOUT_MS });
    detectors['pg_checksums --check'] = { caught: offline.exitCode !== 0, said: said(`${offline.stderr}\n${offline.stdout}`) };

    await instance.start();
    detectors['read'] = await withClient(
      () => instance.connect(database),
      async (reader) => {
        try {
          // Sequential scans bypass nothing: every page is read and its checksum verified.
          await reader.query(`select count(*) from ${relation}`);
          return { caught: false, said: 'the table read without error' };
        } catch (error) {
          return { caught: true, said: errorMessage(error) };
        }
      },
    );
    const amcheck = await instance.runPgTool('pg_amcheck', ['--install-missing', `--database=${database}`, `--table=${relation}`], { allowFailure: true, timeoutMs: TOOL_TIMEOUT_MS });
    detectors['pg_amcheck'] = { caught: amcheck.exitCode !== 0, said: said(`${amcheck.stdout}\n${amcheck.stderr}`) };
    // Flipped bytes no reader notices changed nothing a restore must undo: the drill would prove nothing.
    if (!Object.values(detectors).some((detector) => detector.caught)) {
      throw new FaultError(`corrupt-page: block ${block} of ${relation} was damaged but neither pg_checksums, a full read nor pg_amcheck noticed; the cluster needs data checksums (initdb --data-checksums) for this fault to mean anything`);
    }

    return {
      summary: `block ${block} of ${relation === spec.table ? spec.table : `${relation} (a chunk of ${spec.table})`} corrupted on disk (${file})`,
      at,
      detail: { table: spec.table, relation, file, block },
      observations: [{ kind: 'corruption-detectors', table: relation, block, file, detectors }],
    };
  },
});
