/**
 * The `restore-drill` command: each subcommand is a library call plus a flag
 * table, and one handler maps errors to exit codes:
 *   0 every drill passed · 1 a drill failed a check or a target · 2 bad input or setup failure.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DURATION_HINT, formatDuration, parseDuration } from '../duration.js';
import { checkSigningKey, generateKeyPair, verifyEvidence } from '../evidence/bundle.js';
import { freshness, readHistory } from '../report/history.js';
import { writeOutputs, type OutputOptions } from '../report/outputs.js';
import type { RunJournal } from '../drill/journal.js';
import { loadDrills } from '../drill/load.js';
import { DrillRun } from '../drill/runner.js';
import { errorMessage, InputError, RestoreDrillError, SetupError } from '../errors.js';
import { runAllCleanups } from '../lifecycle.js';
import { VERSION } from '../version.js';
import { DEFAULT_IMAGE } from '../engines/images.js';
import { consoleProgress } from './progress.js';

export const EXIT = { pass: 0, fail: 1, input: 2, interrupted: 130 } as const;

const SETUP_CODES = new Set(['PG_BINARIES_NOT_FOUND', 'PG_USER_MISSING', 'SERVER_START_FAILED', 'DOCKER_UNAVAILABLE']);

const USAGE = `restore-drill ${VERSION}: proves PostgreSQL/TimescaleDB backups really restore.

Usage:
  restore-drill run <drill.yaml|folder>... [--engine native|docker] [--image IMAGE] [--reports-dir reports] [--keep] [--pg-bin DIR]
                    [--junit FILE] [--metrics FILE] [--history FILE] [--sign-key KEY]
  restore-drill validate <drill.yaml|folder>...
  restore-drill list <drill.yaml|folder>...
  restore-drill status [--history FILE] [--max-age 35d]
  restore-drill verify-evidence <run folder> [--public-key PUB]
  restore-drill keygen <private key file> <public key file>

Options:
  --engine KIND      native (default: throwaway clusters from local binaries) or docker (testcontainers);
                     overrides the drill files' engine.kind
  --image IMAGE      the container image for --engine docker (default: $RESTORE_DRILL_IMAGE or ${DEFAULT_IMAGE})
  --reports-dir DIR  where each run's folder (report.md, journal.json, logs) is written (default: reports)
  --keep             keep every throwaway instance's files (a failed drill's are always kept)
  --pg-bin DIR       PostgreSQL binaries to use (default: $RESTORE_DRILL_PG_BIN, pg_config, PATH, usual folders)
  --junit FILE       also write the JUnit XML here (each run folder has junit.xml)
  --metrics FILE     also write the Prometheus textfile here, atomically (node exporter textfile collector)
  --history FILE     the history file (default: <reports-dir>/history.jsonl)
  --sign-key KEY     sign the run's evidence manifest with this Ed25519 private key (restore-drill keygen)
  --public-key PUB   verify-evidence: the signature must be by this key, not only the one the manifest names
  --max-age AGE      status: a drill whose last success is older fails the command (default 35d)
  -h, --help         this text
  -v, --version      the version

Exit codes: 0 every drill passed, 1 a drill failed a check or target, 2 bad input or setup failure.`;

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};


/** Exit code for a finished run. */
export function exitCodeFor(journal: RunJournal): number {
  if (journal.status === 'interrupted') return EXIT.interrupted;
  if (journal.status === 'aborted') return EXIT.input;
  if (journal.drills.some((d) => d.status === 'aborted' && d.errorCode && SETUP_CODES.has(d.errorCode))) return EXIT.input;
  return journal.drills.every((d) => d.verdict === 'pass') ? EXIT.pass : EXIT.fail;
}

async function runCommand(paths: string[], values: Record<string, unknown>, io: Io): Promise<number> {
  const drills = await loadDrills(paths);
  const reportsDir = (values['reports-dir'] as string | undefined) ?? 'reports';
  const engine = values.engine as string | undefined;
  if (engine !== undefined && engine !== 'native' && engine !== 'docker') {
    throw new InputError('USAGE', `--engine: expected native or docker, got "${engine}"`);
  }
  if (values.image !== undefined && engine !== 'docker' && drills.every((d) => d.spec.engine.kind !== 'docker')) {
    throw new InputError('USAGE', '--image applies to the docker engine only: add --engine docker');
  }
  const signingKey = values['sign-key'] as string | undefined;
  if (signingKey) await checkSigningKey(signingKey);
  const outputs: OutputOptions = {
    history: (values.history as string | undefined) ?? join(reportsDir, 'history.jsonl'),
    junit: values.junit as string | undefined,
    metrics: values.metrics as string | undefined,
    signingKey,
    stepSummary: process.env.GITHUB_STEP_SUMMARY || undefined,
  };
  const run = new DrillRun(drills, {
    reportsDir,
    engine,
    image: values.image as string | undefined,
    keep: Boolean(values.keep),
    binDir: values['pg-bin'] as string | undefined,
    listeners: [consoleProgress(io.err)],
  });

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(EXIT.interrupted); // A second Ctrl-C: stop waiting for cleanup.
    signalled = true;
    io.err(`\n${signal}: stopping servers and removing temp folders…`);
    run.interrupt();
    void runAllCleanups()
      .then(() => writeOutputs(run.dir, run.journal, outputs))
      .then(({ report }) => io.err(`interrupted; journal and report: ${report}`))
      .finally(() => process.exit(signal === 'SIGINT' ? EXIT.interrupted : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const journal = await run.run();
    if (signalled) return new Promise<number>(() => {}); // The signal handler exits.
    const { report, junit } = await writeOutputs(run.dir, journal, outputs);
    const passed = journal.drills.filter((d) => d.verdict === 'pass').length;
    io.out(
      `${passed}/${journal.drills.length} drills passed in ${formatDuration(Date.parse(journal.endedAt ?? '') - Date.parse(journal.startedAt))}. Report: ${report} (JUnit: ${junit})`,
    );
    return exitCodeFor(journal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Each drill's last success and its age; non-zero when one is older than --max-age (monthly drills that silently stopped). */
async function statusCommand(values: Record<string, unknown>, io: Io): Promise<number> {
  const history = (values.history as string | undefined) ?? join((values['reports-dir'] as string | undefined) ?? 'reports', 'history.jsonl');
  const maxAgeText = (values['max-age'] as string | undefined) ?? '35d';
  const maxAgeMs = parseDuration(maxAgeText);
  if (maxAgeMs === undefined) throw new InputError('USAGE', `--max-age: expected ${DURATION_HINT}, got "${maxAgeText}"`);
  const rows = freshness(await readHistory(history), new Date(), maxAgeMs);
  if (rows.length === 0) {
    io.err(`${history}: no drill has run yet (no history); run restore-drill run drills/ first`);
    return EXIT.fail;
  }
  io.out(`drill | last success | age | last verdict | (max age ${maxAgeText}, history ${history})`);
  for (const row of rows) {
    io.out(`${row.drill} | ${row.lastSuccess ?? 'never'} | ${row.ageMs === undefined ? 'n/a' : formatDuration(row.ageMs)} | ${row.lastVerdict}${row.stale ? ' | STALE' : ''}`);
  }
  const stale = rows.filter((r) => r.stale);
  if (stale.length) io.err(`${stale.length} drill(s) without a success in ${maxAgeText}: ${stale.map((r) => r.drill).join(', ')}`);
  return stale.length ? EXIT.fail : EXIT.pass;
}

async function verifyEvidenceCommand(paths: string[], values: Record<string, unknown>, io: Io): Promise<number> {
  if (paths.length !== 1) throw new InputError('USAGE', 'verify-evidence: name one run folder, e.g. restore-drill verify-evidence reports/<run-id>');
  const verdict = await verifyEvidence(paths[0]!, { publicKey: values['public-key'] as string | undefined });
  for (const problem of verdict.problems) io.err(`changed: ${problem}`);
  io.out(
    `${verdict.ok ? 'ok' : 'FAILED'}: ${verdict.checkedFiles} files checked, signature ${verdict.signature}` +
      (verdict.signature === 'valid' && !values['public-key'] ? ' (by the key the manifest names; pass --public-key to prove whose)' : ''),
  );
  return verdict.ok ? EXIT.pass : EXIT.fail;
}

async function keygenCommand(paths: string[], io: Io): Promise<number> {
  if (paths.length !== 2) throw new InputError('USAGE', 'keygen: name the private and public key files, e.g. restore-drill keygen evidence.key evidence.pub');
  await generateKeyPair(paths[0]!, paths[1]!);
  io.out(`Ed25519 key pair written: ${paths[0]} (private, keep it secret) and ${paths[1]} (public, give it to auditors)`);
  return EXIT.pass;
}

async function validateCommand(paths: string[], io: Io): Promise<number> {
  const drills = await loadDrills(paths);
  for (const { file, spec } of drills) io.out(`ok  ${file}: ${spec.name}`);
  return EXIT.pass;
}

async function listCommand(paths: string[], io: Io): Promise<number> {
  const drills = await loadDrills(paths);
  io.out('name | engine | backup | fault | recovery | RTO target | RPO target | file');
  for (const { file, spec } of drills) {
    const fault = spec.fault.type === 'drop-table' ? `drop-table ${spec.fault.table}` : spec.fault.type;
    io.out(
      [spec.name, spec.engine.kind, `${spec.backup.method} ${spec.backup.format}`, fault, spec.recovery.procedure, formatDuration(spec.targets.rto), formatDuration(spec.targets.rpo), file].join(' | '),
    );
  }
  return EXIT.pass;
}

export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        'reports-dir': { type: 'string' },
        keep: { type: 'boolean' },
        'pg-bin': { type: 'string' },
        engine: { type: 'string' },
        image: { type: 'string' },
        history: { type: 'string' },
        junit: { type: 'string' },
        metrics: { type: 'string' },
        'sign-key': { type: 'string' },
        'public-key': { type: 'string' },
        'max-age': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
    if (values.version) {
      io.out(VERSION);
      return EXIT.pass;
    }
    const [command, ...paths] = positionals;
    if (values.help || !command) {
      io.out(USAGE);
      return values.help ? EXIT.pass : EXIT.input;
    }
    if (command === 'status') return await statusCommand(values, io);
    if (command === 'verify-evidence') return await verifyEvidenceCommand(paths, values, io);
    if (command === 'keygen') return await keygenCommand(paths, io);
    if (!['run', 'validate', 'list'].includes(command)) {
      throw new InputError('USAGE', `unknown command "${command}"; expected run, validate, list, status, verify-evidence or keygen (see --help)`);
    }
    if (paths.length === 0) throw new InputError('USAGE', `${command}: name drill files or folders, e.g. restore-drill ${command} drills/`);
    if (command === 'run') return await runCommand(paths, values, io);
    if (command === 'validate') return await validateCommand(paths, io);
    return await listCommand(paths, io);
  } catch (error) {
    if (error instanceof RestoreDrillError) {
      io.err(error.message);
      return error instanceof InputError || error instanceof SetupError ? EXIT.input : EXIT.fail;
    }
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`${errorMessage(error)} (see --help)`);
      return EXIT.input;
    }
    throw error;
  }
}
