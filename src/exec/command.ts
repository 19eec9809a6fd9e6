/**
 * Every external command the harness runs goes through here (execa), so that
 * each one lands in the journal with its escaped command line, duration, exit
 * code and the tail of its stderr, with secrets redacted.
 */
import { execa } from 'execa';
import { CommandError } from '../errors.js';
import type { CommandRecord } from '../model/journal.js';
import { registerCleanup } from '../support/cleanup.js';
import { formatDuration } from '../support/units.js';

/** Where a command is recorded and whose rights it runs with. */
export interface CommandContext {
  record?: (record: CommandRecord) => void;
  /** Values replaced by **** wherever they would be recorded. */
  secrets?: readonly string[];
  /** Run as this unprivileged user (PostgreSQL refuses to run as root). */
  runAs?: { uid: number; gid: number };
}

export interface CommandOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  input?: string;
  /** Return the result instead of throwing when the exit code is not zero. */
  allowFailure?: boolean;
  /** The binary and version, recorded with the command (PostgreSQL tools). */
  tool?: string;
  /** Start in its own process group, so a terminal's Ctrl-C reaches the harness, not the server it starts. */
  detached?: boolean;
}

export interface CommandResult {
  exitCode: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  durationMs: number;
  failed: boolean;
}

const STDERR_TAIL_LINES = 20;

/** Six hours: a production-sized dump or restore is slow, but a tool that hangs for ever must still be stopped. */
export const TOOL_TIMEOUT_MS = 6 * 3_600_000;

/**
 * Ten minutes: the limit of every command that names none, the ones that look
 * rather than move data (pg_restore --list, a version, a mount). Commands that
 * read or copy a whole backup or cluster name TOOL_TIMEOUT_MS.
 */
const CHECK_TIMEOUT_MS = 10 * 60_000;

/** The limit a command runs under: its own, or the default for checks. */
export function timeoutOf(options: CommandOptions): number {
  return options.timeoutMs ?? CHECK_TIMEOUT_MS;
}

/** Quotes an argument for display the way a shell would need it. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The cloud credentials in the harness's environment. Tools and team
 * scripts inherit them (aws s3 cp, pgBackRest); a script that prints its
 * environment must not put them into a report.
 */
export function environmentSecrets(): string[] {
  return ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY_ID'].flatMap((name) => (process.env[name] ? [process.env[name]!] : []));
}

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join('****');
  }
  return out;
}

export function tail(text: string, lines = STDERR_TAIL_LINES): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/** What any command runner (execa here, `docker exec` for containers) reports back. */
export interface Outcome {
  escapedCommand: string;
  startedAt: string;
  durationMs: number;
  exitCode: number | undefined;
  signal?: string;
  timedOut: boolean;
  /** Set when the command could not be started at all. */
  startError?: string;
  stdout: string;
  stderr: string;
}

/** Records an outcome in the journal and throws CommandError when it failed and failure was not allowed. */
export function settle(outcome: Outcome, ctx: CommandContext, options: CommandOptions = {}): CommandResult {
  const record: CommandRecord = {
    command: redact(outcome.escapedCommand, ctx.secrets),
    startedAt: outcome.startedAt,
    durationMs: outcome.durationMs,
    exitCode: outcome.exitCode ?? null,
    timedOut: outcome.timedOut,
    stderrTail: redact(tail(outcome.stderr), ctx.secrets),
    ...(outcome.signal ? { signal: outcome.signal } : {}),
    ...(options.tool ? { tool: options.tool } : {}),
  };
  ctx.record?.(record);
  const failed = outcome.timedOut || outcome.exitCode !== 0;
  if (failed && !options.allowFailure) {
    const why = outcome.timedOut
      ? `did not finish within ${formatDuration(timeoutOf(options))} (the harness's time limit for it) and was killed`
      : outcome.signal
        ? `was killed by ${outcome.signal}`
        : outcome.exitCode === undefined
          ? `could not start (${redact(outcome.startError ?? 'unknown error', ctx.secrets)})`
          : `exited with code ${outcome.exitCode}`;
    throw new CommandError(
      `${record.command} ${why}${record.stderrTail ? `:\n${record.stderrTail}` : ''}`,
      outcome.exitCode,
      record.stderrTail,
    );
  }
  return { exitCode: outcome.exitCode ?? null, timedOut: outcome.timedOut, stdout: outcome.stdout, stderr: outcome.stderr, durationMs: outcome.durationMs, failed };
}

export async function runCommand(
  file: string,
  args: readonly string[],
  ctx: CommandContext,
  options: CommandOptions = {},
): Promise<CommandResult> {
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const detached = options.detached ?? false;
  const child = execa(file, args, {
    env: options.env,
    extendEnv: true,
    cwd: options.cwd,
    // A detached command is timed out below, as a whole process group.
    timeout: detached ? undefined : timeoutOf(options),
    input: options.input,
    reject: false,
    stripFinalNewline: false,
    uid: ctx.runAs?.uid,
    gid: ctx.runAs?.gid,
    detached,
  });
  // A command started in its own process group may have started children (a script's
  // sleep, its pg_dump) that hold its output open: killing only the command would
  // leave us waiting on them. At the timeout the whole group goes.
  let groupTimedOut = false;
  const killGroup = async () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const timer = detached
    ? setTimeout(() => {
        groupTimedOut = true;
        void killGroup();
      }, timeoutOf(options))
    : undefined;
  // Ctrl-C reaches the harness, not a detached group: the cleanup ends it, with everything it started.
  const unregister = detached ? registerCleanup(killGroup) : undefined;
  const result = await child;
  clearTimeout(timer);
  unregister?.();
  return settle(
    {
      escapedCommand: result.escapedCommand,
      startedAt,
      durationMs: performance.now() - started,
      exitCode: groupTimedOut ? undefined : result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut || groupTimedOut,
      startError: result.exitCode === undefined ? `${result.code ?? ''} ${result.originalMessage ?? ''}`.trim() : undefined,
      stdout: typeof result.stdout === 'string' ? result.stdout : '',
      stderr: typeof result.stderr === 'string' ? result.stderr : '',
    },
    ctx,
    options,
  );
}
