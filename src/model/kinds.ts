/**
 * The words the modules use to say what fits with what, so the compatibility
 * of a fault, a backup method and a recovery procedure is derived from what
 * each module declares, not written out pair by pair.
 */

/** What a backup method makes: a logical dump, a physical copy with a WAL archive, or a streaming replica. */
const FAMILIES = ['logical', 'physical', 'replica'] as const;
export type Family = (typeof FAMILIES)[number];

/**
 * What a fault leaves broken. A recovery procedure says which harms it
 * repairs; pairing a fault with a procedure that repairs nothing it breaks is
 * refused when the drill file is read (procedure `none` excepted: it shows
 * the damage as it stands).
 */
export const HARMS = {
  'table-lost': 'a table is gone',
  'table-damaged': "a table's data is damaged",
  'database-lost': 'the database is gone',
  'bad-data': 'committed writes changed data that must be undone',
  'server-down': 'the server process is dead, its data folder intact',
  'instance-lost': 'the server and its data folder are gone',
  'production-lost': 'production is gone; its backup, made elsewhere, is all there is',
  'disk-full': "the data folder's filesystem is full",
} as const;
export type Harm = keyof typeof HARMS;

/**
 * What a backup method offers the faults that act on backups:
 *  - damageable-file: one file holds the backup's data (a dump, base.tar.gz);
 *  - harness-dump: the harness can make another dump of the same kind (a wrong or a half-written one);
 *  - wal-archive-folder: WAL segments are archived as plain files, and the backup knows where its WAL ends;
 *  - made-elsewhere: a backup the team already has (production's), only read: nothing is seeded, nothing damaged.
 */
const BACKUP_FEATURES = ['damageable-file', 'harness-dump', 'wal-archive-folder', 'made-elsewhere'] as const;
export type BackupFeature = (typeof BACKUP_FEATURES)[number];
