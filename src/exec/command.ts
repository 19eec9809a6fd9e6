/**
 * Every external command the harness runs goes through here (execa), so that
 * each one lands in the journal with its escaped command line, duration, exit
 * code and the tail of its stderr, with secrets redacted.
 */
import { execa } from 'execa';
import { CommandError } from '../errors.js';

export interface CommandRecord {
  /** The command line, shell-escaped, secrets redacted. */
  command: string;
  startedAt: string;
  durationMs: number;
  exitCode: number | null;
  signal?: string;
  timedOut: boolean;
  stderrTail: string;
}

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
  /** Start in its own process group, so a terminal's Ctrl-C reaches the harness, not the server it starts. */
  detached?: boolean;
}

export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  failed: boolean;
}

const STDERR_TAIL_LINES = 20;

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

export async function runCommand(
  file: string,
  args: readonly string[],
  ctx: CommandContext,
  options: CommandOptions = {},
): Promise<CommandResult> {
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const result = await execa(file, args, {
    env: options.env,
    extendEnv: true,
    cwd: options.cwd,
    timeout: options.timeoutMs,
    input: options.input,
    reject: false,
    stripFinalNewline: false,
    uid: ctx.runAs?.uid,
    gid: ctx.runAs?.gid,
    detached: options.detached ?? false,
  });
  const durationMs = performance.now() - started;
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  const record: CommandRecord = {
    command: redact(result.escapedCommand, ctx.secrets),
    startedAt,
    durationMs,
    exitCode: result.exitCode ?? null,
    timedOut: result.timedOut,
    stderrTail: redact(tail(stderr), ctx.secrets),
    ...(result.signal ? { signal: result.signal } : {}),
  };
  ctx.record?.(record);
  const failed = result.failed;
  if (failed && !options.allowFailure) {
    const why = result.timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : result.signal
        ? `was killed by ${result.signal}`
        : result.exitCode === undefined
          ? `could not start (${result.code ?? 'unknown error'}: ${redact(result.originalMessage ?? '', ctx.secrets)})`
          : `exited with code ${result.exitCode}`;
    throw new CommandError(
      `${record.command} ${why}${record.stderrTail ? `:\n${record.stderrTail}` : ''}`,
      result.exitCode,
      record.stderrTail,
    );
  }
  return { exitCode: result.exitCode ?? null, stdout, stderr, durationMs, failed };
}
