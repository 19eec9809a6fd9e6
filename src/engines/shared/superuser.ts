/**
 * The superuser of the engines' clusters, and how a copied cluster's
 * superuser is given this run's password. Each engine has a password of its
 * own, so a cluster copied from the seed cache, made by another run, comes
 * with another.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export const SUPERUSER = 'postgres';

/** PostgreSQL's own count (scram_iterations' default). */
const SCRAM_ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802 and
 * 7677, in the form pg_authid keeps): given one, ALTER ROLE stores it as it
 * is. So the statement carries no password, and a server that logs
 * statements (a runbook's log_statement = ddl) does not write it in its log.
 */
function scramVerifier(password: string): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, SCRAM_ITERATIONS, 32, 'sha256');
  const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** The statement that gives the superuser `password`, as its verifier. */
export function superuserPasswordStatement(password: string): string {
  return `ALTER ROLE ${SUPERUSER} PASSWORD '${scramVerifier(password)}'`;
}
