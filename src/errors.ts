/**
 * One error class per failure kind, each with a stable code, so the CLI can map
 * errors to exit codes in one place and users can search for a code.
 * Messages say what was expected, what was found, and what to do next.
 */
export type ErrorCode =
  | 'DRILL_FILE_INVALID'
  | 'USAGE'
  | 'PG_BINARIES_NOT_FOUND'
  | 'PG_USER_MISSING'
  | 'DOCKER_UNAVAILABLE'
  | 'SERVER_START_FAILED'
  | 'RECOVERY_FAILED'
  | 'COMMAND_FAILED'
  | 'BACKUP_INTEGRITY'
  | 'UNSUPPORTED'
  | 'INTERRUPTED';

export class RestoreDrillError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from the user: drill files, flags. Exit code 2. */
export class InputError extends RestoreDrillError {}

/** The machine cannot run drills (no binaries, no unprivileged user, server will not start). Exit code 2. */
export class SetupError extends RestoreDrillError {}

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

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
