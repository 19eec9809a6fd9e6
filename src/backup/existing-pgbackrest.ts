/**
 * A pgBackRest repository the team already has, and its stanza: in a folder
 * or in a bucket, only ever read. The harness writes its own pgBackRest
 * configuration pointing at it (logs, locks and spool in the drill's own
 * folder), checks it with `pgbackrest verify`, and restores the newest
 * backup set, or the one named, with `pgbackrest restore`, replaying the
 * repository's WAL archive to its end through archive-get. The restored
 * server never archives: production's archive_command would write into the
 * team's repository. What the restore needs is read from the repository:
 * the major from `pgbackrest info`, the replay floor from the restored
 * pg_control.
 */
import { z } from 'zod';
import { BackupIntegrityError } from '../errors.js';
import type { ArtifactOf } from '../model/artifact.js';
import { defineMethod } from './method.js';
import { configureRepository, describeSets, pgbackrestRestore, pgbackrestRun, s3Schema, verifyRepository, type InfoBackup } from './pgbackrest.js';

const detail = z.strictObject({
  repository: z.string().describe("The team's repository: its folder, or s3://bucket/path."),
  stanza: z.string(),
  set: z.string().describe('The backup set restored.'),
  sets: z.array(z.strictObject({ label: z.string(), type: z.string(), prior: z.string().nullable(), stoppedAt: z.string() })).describe('It and the sets it builds on, oldest first.'),
  archive: z.strictObject({ min: z.string().nullable(), max: z.string().nullable() }).describe('The oldest and newest WAL the repository holds for this database.'),
});

declare module '../model/artifact.js' {
  interface BackupDetails {
    'existing-pgbackrest': z.output<typeof detail>;
  }
}

/** `pgbackrest info --output=json` for one stanza, as far as a restore needs it. */
interface StanzaInfo {
  name: string;
  status: { code: number; message: string };
  /** Each repository's own status: where the overall one says only "other", this one names the error. */
  repo?: Array<{ status: { code: number; message: string } }>;
  db: Array<{ id: number; version: string }>;
  archive: Array<{ database: { id: number }; id: string; min: string | null; max: string | null }>;
  backup: Array<InfoBackup & { timestamp: { start: number; stop: number }; database: { id: number } }>;
}

/** The set to restore and the chain it stands on (an incremental needs its prior sets). */
function chainOf(sets: StanzaInfo['backup'], label: string): StanzaInfo['backup'] {
  const chain: StanzaInfo['backup'] = [];
  for (let at: string | null = label; at; ) {
    const set = sets.find((s) => s.label === at);
    if (!set) break;
    chain.unshift(set);
    at = set.prior;
  }
  return chain;
}

const schema = z
  .strictObject({
    method: z.literal('existing-pgbackrest'),
    stanza: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a pgBackRest stanza name: letters, digits, _ . -').describe("The team's stanza."),
    path: z.string().min(1).optional().describe("The repository's folder (its repo1-path), relative to the drill file."),
    s3: s3Schema
      .extend({ path: z.string().startsWith('/').describe("The repository's repo1-path in the bucket.") })
      .optional()
      .describe("The repository in S3 (repo1-type=s3); credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, never the drill file."),
    set: z.string().min(1).optional().describe('A backup set label to restore (20261121-020000F); the newest when absent.'),
  })
  .refine((spec) => (spec.path === undefined) !== (spec.s3 === undefined), { message: 'give the repository as path (a folder) or s3 (a bucket), one of them', path: ['path'] });

export const existingPgbackrest = defineMethod({
  method: 'existing-pgbackrest',
  summary: "a pgBackRest repository the team already has (a folder or S3) and its stanza, only read; checked with pgbackrest verify, restored with pgbackrest restore to the end of its archive or a moment in it",
  family: 'physical',
  schema,
  detail,
  features: ['made-elsewhere'],
  requires: ['pgbackrest'],
  label: (spec) => `existing pgBackRest stanza ${spec.stanza}${spec.s3 ? ` (s3://${spec.s3.bucket}${spec.s3.path})` : ''}`,
  tools: () => ['pg_checksums'],
  take: async (ctx, spec): Promise<Array<ArtifactOf<'existing-pgbackrest'>>> => {
    const instance = ctx.primary;
    await configureRepository(instance, spec.stanza, spec.s3 ? { s3: spec.s3 } : { folder: spec.path! });
    const where = spec.s3 ? `s3://${spec.s3.bucket}${spec.s3.path}` : spec.path!;
    const listed = await pgbackrestRun(instance, ['info', '--output=json']).catch((error: Error) => {
      throw new BackupIntegrityError(`${where}: pgbackrest info failed for stanza ${spec.stanza}: ${error.message}`);
    });
    const info = (JSON.parse(listed.stdout) as StanzaInfo[])[0];
    if (!info || info.status.code !== 0 || info.backup.length === 0) {
      const said = info?.repo?.find((r) => r.status.code !== 0)?.status.message ?? info?.status.message ?? 'no such stanza';
      throw new BackupIntegrityError(
        `${where}: stanza ${spec.stanza} has no backup to restore (pgbackrest info: ${said}); check backup.stanza and the repository's path, which the server's user must be able to read`,
      );
    }
    const newest = info.backup.at(-1)!;
    const chosen = spec.set ? info.backup.find((s) => s.label === spec.set) : newest;
    if (!chosen) throw new BackupIntegrityError(`${where}: stanza ${spec.stanza} has no backup set ${spec.set}; it has ${info.backup.map((s) => s.label).join(', ')}`);
    const chain = chainOf(info.backup, chosen.label);
    const db = info.db.find((d) => d.id === chosen.database.id) ?? info.db.at(-1)!;
    const archive = info.archive.find((a) => a.database.id === db.id);
    return [
      {
        method: 'existing-pgbackrest',
        path: where,
        ...(await describeSets(instance, chain)),
        wal: { startLsn: chosen.lsn.start, endLsn: chosen.lsn.stop },
        serverMajor: Number(db.version.split('.')[0]),
        // pgBackRest's info gives no time for the newest archived WAL; the set's end is the newest moment known for certain.
        written: { at: new Date(chosen.timestamp.stop * 1000).toISOString(), by: `the end of backup set ${chosen.label} (WAL archived after it is not dated by pgbackrest info)` },
        detail: {
          repository: where,
          stanza: spec.stanza,
          set: chosen.label,
          sets: chain.map((s) => ({ label: s.label, type: s.type, prior: s.prior, stoppedAt: new Date(s.timestamp.stop * 1000).toISOString() })),
          archive: { min: archive?.min ?? null, max: archive?.max ?? null },
        },
      },
    ];
  },
  // The set chosen when the backup was found, named: the repository may have gained a newer one since.
  restoreInto: (instance, backup, dataDir, target, stopAt) => pgbackrestRestore(instance, dataDir, target, stopAt, backup.method === 'existing-pgbackrest' ? backup.detail.set : undefined),
  // pgbackrest verify reads every file of the repository against its checksums, and writes nothing there.
  integrityChain: (_artifact, instance) => [{ check: 'pgbackrest verify', run: () => verifyRepository(instance) }],
});
