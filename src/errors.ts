/**
 * One error class per failure kind, each with a stable code and the exit code
 * it ends the command with, all in one table, so users can search for a code
 * and the CLI maps errors to exit codes in one place. Messages say what was
 * expected, what was found, and what to do next.
 */

/** Exit codes of the `restore-drill` command. */
export const EXIT = {
  /** Every drill passed (or, for other commands, the answer is yes). */
  pass: 0,
  /** A drill failed a check or a target, or could not reach a verdict. */
  fail: 1,
  /** Bad input or a machine that cannot run drills; nothing was judged. */
  input: 2,
  /** A bug in restore-drill itself. */
  internal: 3,
  /** Ctrl-C (SIGINT) and SIGTERM, as shells report them. */
  interrupted: 130,
  terminated: 143,
} as const;

/** Every error code, what it means, and the exit code the command ends with. */
export const ERROR_CODES = {
  USAGE: { exit: EXIT.input, meaning: 'a command-line flag or argument is wrong' },
  DRILL_FILE_INVALID: { exit: EXIT.input, meaning: 'a drill file is missing, unreadable or invalid' },
  HISTORY_INVALID: { exit: EXIT.input, meaning: 'the drill history file has a line restore-drill did not write' },
  EVIDENCE_INVALID: { exit: EXIT.input, meaning: 'a signing key or an evidence folder cannot be used' },
  OUTPUT_UNWRITABLE: { exit: EXIT.input, meaning: 'the reports folder or an output path (--junit, --metrics, --history) cannot be written or has no room' },
  PG_BINARIES_NOT_FOUND: { exit: EXIT.input, meaning: 'no PostgreSQL server binaries to run the native engine' },
  PG_USER_MISSING: { exit: EXIT.input, meaning: 'running as root without an unprivileged OS user for PostgreSQL' },
  DOCKER_UNAVAILABLE: { exit: EXIT.input, meaning: 'the docker engine was asked for and no Docker engine answered' },
  SERVER_START_FAILED: { exit: EXIT.input, meaning: 'a throwaway PostgreSQL instance would not start' },
  DISK_SPACE: { exit: EXIT.input, meaning: 'the temp folder has too little free space for a drill of this scale' },
  UNSUPPORTED: { exit: EXIT.fail, meaning: 'the engine cannot undergo what the drill needs; the drill ends unsupported' },
  COMMAND_FAILED: { exit: EXIT.fail, meaning: 'a tool the harness ran (pg_dump, pg_restore, tar, ...) failed' },
  SCRIPT_FAILED: { exit: EXIT.fail, meaning: "the team's own backup or restore script failed" },
  RECOVERY_FAILED: { exit: EXIT.fail, meaning: 'a restored or promoted server did not finish recovery' },
  BACKUP_INTEGRITY: { exit: EXIT.fail, meaning: 'a backup failed an integrity check before it was trusted' },
  FAULT_NOT_INJECTED: { exit: EXIT.fail, meaning: 'the fault could not be injected as the drill describes' },
  INTERNAL: { exit: EXIT.internal, meaning: 'a bug in restore-drill: please report it with the journal' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function exitCodeOf(code: ErrorCode): number {
  return ERROR_CODES[code].exit;
}

export abstract class RestoreDrillError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from the user: flags, drill files, the history file, keys and evidence folders. */
export class InputError extends RestoreDrillError {
  constructor(code: 'USAGE' | 'DRILL_FILE_INVALID' | 'HISTORY_INVALID' | 'EVIDENCE_INVALID', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Where the run's evidence goes cannot take it: no permission, no room, a directory where a file should be. */
export class OutputError extends RestoreDrillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OUTPUT_UNWRITABLE', message, options);
  }
}

/** The machine cannot run drills: no binaries, no unprivileged user, no Docker, a server that will not start. */
export class SetupError extends RestoreDrillError {
  constructor(code: 'PG_BINARIES_NOT_FOUND' | 'PG_USER_MISSING' | 'DOCKER_UNAVAILABLE' | 'SERVER_START_FAILED' | 'DISK_SPACE', message: string) {
    super(code, message);
  }
}

/** An external command exited non-zero or timed out. */
export class CommandError extends RestoreDrillError {
  constructor(
    message: string,
    readonly exitCode: number | undefined,
    readonly stderrTail: string,
  ) {
    super('COMMAND_FAILED', message);
  }
}

/** A team script that failed: how it failed is the finding. */
export class ScriptError extends RestoreDrillError {
  constructor(message: string) {
    super('SCRIPT_FAILED', message);
  }
}

/** A restored or promoted server that never left recovery. */
export class RecoveryError extends RestoreDrillError {
  constructor(message: string) {
    super('RECOVERY_FAILED', message);
  }
}

/** A backup artifact failed an integrity check before it was trusted. */
export class BackupIntegrityError extends RestoreDrillError {
  constructor(message: string) {
    super('BACKUP_INTEGRITY', message);
  }
}

/** The engine or environment lacks a capability a drill needs; the drill ends as unsupported. */
export class UnsupportedError extends RestoreDrillError {
  constructor(message: string) {
    super('UNSUPPORTED', message);
  }
}

/** The fault could not do its damage as described (nothing to remove, a dump that fitted). */
export class FaultError extends RestoreDrillError {
  constructor(message: string) {
    super('FAULT_NOT_INJECTED', message);
  }
}

/** A state the code should make impossible: a bug, not a finding. */
export class InternalError extends RestoreDrillError {
  constructor(message: string) {
    super('INTERNAL', message);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
