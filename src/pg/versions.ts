/** Version texts of PostgreSQL tools. */

/** The client tools the harness runs against an instance. */
export type PgTool = 'pg_dump' | 'pg_restore' | 'psql' | 'pg_amcheck' | 'pg_isready' | 'pg_basebackup' | 'pg_verifybackup' | 'pg_waldump' | 'pg_checksums' | 'pg_controldata' | 'vacuumdb';

/** The major version in a tool's `--version` text, e.g. "pg_dump (PostgreSQL) 15.18" → 15. */
export function majorOf(versionText: string): number | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(versionText);
  return match ? Number(match[1]) : undefined;
}
