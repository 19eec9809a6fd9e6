/** The drill the bench times whole: a database lost and restored from a dump, the runbooks' commonest drill. */
export function databaseLossDrill(name: string, scale: string, seed: number): string {
  return [
    `name: ${name}`,
    `dataset: { scale: ${scale}, seed: ${seed} }`,
    'workload: { rate: 100, lead: 1s, afterBackup: 1s }',
    'backup: { method: pg_dump }',
    'fault: { type: drop-database }',
    'recovery: { procedure: restore-database, jobs: 2 }',
    'targets: { rto: 4h, rpo: 24h }',
    '',
  ].join('\n');
}
