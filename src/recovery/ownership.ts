/**
 * A logical restore without the dump's owners and grants (`owners: false`),
 * for a dump whose roles the restore target lacks (a production dump
 * restored elsewhere): the option, the pg_restore arguments it means, and
 * what the outcome says, so the checks leave those definitions out.
 */
import { z } from 'zod';

/** The `owners` option of a procedure that runs pg_restore; `more` says what else holds for that procedure. */
export function ownersOption(more = '') {
  return z
    .boolean()
    .default(true)
    .describe(
      `false: pg_restore --no-owner --no-privileges, for a dump whose roles the restore target lacks (a production dump restored elsewhere); ownership and grants are then neither restored nor compared.${more}`,
    );
}

/** pg_restore's arguments for it. */
export function ownershipArgs(owners: boolean): string[] {
  return owners ? [] : ['--no-owner', '--no-privileges'];
}

/** What the recovery outcome says of it (RecoveryOutcome.withoutOwners). */
export function ownershipOutcome(owners: boolean): { withoutOwners?: true } {
  return owners ? {} : { withoutOwners: true };
}
