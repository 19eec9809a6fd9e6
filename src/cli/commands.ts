/**
 * The `restore-drill` command: each subcommand is a library call plus a flag
 * table, and one handler maps errors to exit codes (the table is in errors.ts):
 *   0 every drill passed · 1 a drill failed a check or a target · 2 bad input or setup failure ·
 *   3 a bug in restore-drill · 130/143 interrupted by SIGINT/SIGTERM.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { backupMethod } from '../backup/index.js';
import { loadDrills } from '../drill/load.js';
import { markAbandonedRuns } from '../drill/abandoned.js';
import { checkOutputPaths } from '../drill/output-paths.js';
import { writeOutputs, type OutputOptions } from '../drill/outputs.js';
import { DrillRun, newRunId } from '../drill/run.js';
import { mergeShards, parseShard, shardDrills } from '../drill/shards.js';
import { cleanLeftovers } from '../engines/index.js';
import { ENGINE_KINDS, type EngineKind } from '../engines/types.js';
import { errorMessage, EXIT, exitCodeOf, InputError, RestoreDrillError } from '../errors.js';
import { checkSigningKey, generateKeyPair, keyFingerprint, verifyEvidence } from '../evidence/bundle.js';
import { faultModule } from '../faults/index.js';
import { freshness, readHistory, type HistoryEntry } from '../history/history.js';
import type { RunJournal } from '../model/journal.js';
import { passed, runExitCode } from '../model/outcome.js';
import { procedureModule } from '../recovery/index.js';
import { notPassed } from '../report/failures.js';
import { runAllCleanups } from '../support/cleanup.js';
import { DURATION_HINT, formatDuration, parseDuration } from '../support/units.js';
import { VERSION } from '../support/version.js';
import { fingerprintCommand } from './fingerprint.js';
import { defaultIo, type Io } from './io.js';
import { consoleProgress } from './progress.js';
import { commandUsage, usage } from './usage.js';


/** The history file: --history, or history.jsonl in the reports folder. */
function outputsHistory(values: Record<string, unknown>, reportsDir: string): string {
  return (values.history as string | undefined) ?? join(reportsDir, 'history.jsonl');
}

/** `--jobs N`: a whole number of drills at once; more than a few per core only makes every timing worse. */
function parseJobs(text: string): number {
  const jobs = Number(text);
  if (!/^\d+$/.test(text.trim()) || jobs < 1 || jobs > 64) throw new InputError('USAGE', `--jobs: expected a whole number of drills at once from 1 to 64 (e.g. --jobs 2), got "${text}"`);
  return jobs;
}

function isEngineKind(value: string): value is EngineKind {
  return (ENGINE_KINDS as readonly string[]).includes(value);
}

/**
 * Where a run's evidence goes, from the flags, checked before anything runs:
 * a key that cannot sign, evidence that cannot be written, or a history that
 * cannot be read is an input error now, not a lost report later.
 */
async function checkedOutputs(values: Record<string, unknown>, reportsDir: string): Promise<{ outputs: OutputOptions; history: HistoryEntry[] }> {
  const signingKey = values['sign-key'] as string | undefined;
  if (signingKey) await checkSigningKey(signingKey);
  const outputs: OutputOptions = {
    history: outputsHistory(values, reportsDir),
    junit: values.junit as string | undefined,
    metrics: values.metrics as string | undefined,
    signingKey,
    stepSummary: process.env.GITHUB_STEP_SUMMARY || undefined,
  };
  await checkOutputPaths(reportsDir, outputs);
  return { outputs, history: await readHistory(outputs.history) };
}

async function runCommand(paths: string[], values: Record<string, unknown>, io: Io): Promise<number> {
  const named = await loadDrills(paths);
  const shard = values.shard === undefined ? undefined : parseShard(values.shard as string);
  const jobs = values.jobs === undefined ? 1 : parseJobs(values.jobs as string);
  const reportsDir = (values['reports-dir'] as string | undefined) ?? 'reports';
  const engine = values.engine as string | undefined;
  if (engine !== undefined && !isEngineKind(engine)) {
    throw new InputError('USAGE', `--engine: expected ${ENGINE_KINDS.join(' or ')}, got "${engine}"`);
  }
  if (values.image !== undefined && engine !== 'docker' && named.every((d) => d.spec.engine.kind !== 'docker')) {
    throw new InputError('USAGE', '--image applies to the docker engine only: add --engine docker');
  }
  const { outputs, history } = await checkedOutputs(values, reportsDir);
  const signingKey = outputs.signingKey;
  // A shard runs its part, balanced by the drills' last durations; the journal records the whole split for merge-reports.
  const drills = shard ? shardDrills(named, shard, history) : named;
  if (shard) io.err(`shard ${shard.index}/${shard.count}: ${drills.length} of ${named.length} drill(s): ${drills.map((d) => d.spec.name).join(', ') || 'none'}`);
  const run = new DrillRun(drills, {
    reportsDir,
    engine,
    image: values.image as string | undefined,
    keep: Boolean(values.keep),
    binDir: values['pg-bin'] as string | undefined,
    listeners: [consoleProgress(io.err)],
    jobs,
    ...(shard ? { shard: { ...shard, owned: drills.map((d) => d.spec.name), all: named.map((d) => d.spec.name) } } : {}),
  });
  for (const dir of await markAbandonedRuns(reportsDir, run.journal.runId)) io.err(`${dir}: its harness died mid-run (killed or crashed); its journal now says interrupted`);

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(EXIT.interrupted); // A second Ctrl-C: stop waiting for cleanup.
    signalled = true;
    io.err(`\n${signal}: stopping servers and removing temp folders…`);
    run.interrupt();
    void runAllCleanups()
      .then(() => writeOutputs(run.dir, run.journal, outputs))
      .then(({ report }) => io.err(`interrupted; journal and report: ${report}`))
      .catch((error: unknown) => io.err(`interrupted; the journal is in ${run.dir}, but the report could not be written: ${errorMessage(error)}`))
      .finally(() => process.exit(signal === 'SIGINT' ? EXIT.interrupted : EXIT.terminated));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const journal = await run.run();
    if (signalled) return new Promise<number>(() => {}); // The signal handler exits.
    const written = await writeOutputs(run.dir, journal, outputs);
    for (const warning of written.warnings) io.err(`warning: ${warning}`);
    io.out(`Report: ${written.report} and ${written.html}; JUnit: ${outputs.junit ?? written.junit}; metrics: ${outputs.metrics ?? written.metrics}`);
    io.out(`Evidence: ${join(run.dir, 'manifest.json')} SHA-256 ${written.manifestSha256}${signingKey ? ', signed (manifest.sig)' : ', unsigned'}`);
    io.out(verdictLine(journal));
    return runExitCode(journal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The shards' run folders as one run: checked, merged, and written with every output a run writes. */
async function mergeCommand(folders: string[], values: Record<string, unknown>, io: Io): Promise<number> {
  const reportsDir = (values['reports-dir'] as string | undefined) ?? 'reports';
  const { outputs } = await checkedOutputs(values, reportsDir);
  const signingKey = outputs.signingKey;
  const runId = newRunId();
  const dir = join(reportsDir, runId);
  const journal = await mergeShards(folders, dir, runId, values['public-key'] as string | undefined);
  const written = await writeOutputs(dir, journal, outputs);
  for (const warning of written.warnings) io.err(`warning: ${warning}`);
  io.out(`merged ${journal.merged!.shards.length} shard(s), ${journal.drills.length} drill(s), each shard verified against its manifest`);
  io.out(`Report: ${written.report} and ${written.html}; JUnit: ${outputs.junit ?? written.junit}; metrics: ${outputs.metrics ?? written.metrics}`);
  io.out(`Evidence: ${join(dir, 'manifest.json')} SHA-256 ${written.manifestSha256}${signingKey ? ', signed (manifest.sig)' : ', unsigned'}`);
  io.out(verdictLine(journal));
  return runExitCode(journal);
}

/** The run's last line: how many passed, and each drill that did not with its first failing check. */
function verdictLine(journal: RunJournal): string {
  const took = formatDuration(Date.parse(journal.endedAt ?? '') - Date.parse(journal.startedAt));
  const head = `${journal.drills.filter(passed).length}/${journal.drills.length} drills passed in ${took}`;
  const failures = notPassed(journal);
  if (!failures.length) return `${head}.`;
  return `${head}; not passed: ${failures.map((f) => `${f.drill} ${f.outcome}${f.checks[0] ? ` (${f.checks[0]})` : ''}`).join(', ')}`;
}

/** Each drill's last success and its age; non-zero when one is older than --max-age (monthly drills that silently stopped). */
async function statusCommand(paths: string[], values: Record<string, unknown>, io: Io): Promise<number> {
  const history = (values.history as string | undefined) ?? join((values['reports-dir'] as string | undefined) ?? 'reports', 'history.jsonl');
  const maxAgeText = (values['max-age'] as string | undefined) ?? '35d';
  const maxAgeMs = parseDuration(maxAgeText);
  if (maxAgeMs === undefined) throw new InputError('USAGE', `--max-age: expected ${DURATION_HINT}, got "${maxAgeText}"`);
  // Drill files named: each is expected, with its own cadence, whether any run (or shard) covered it or not.
  const expected = paths.length ? (await loadDrills(paths)).map(({ spec }) => ({ drill: spec.name, maxAgeMs: spec.cadence })) : [];
  const rows = freshness(await readHistory(history), new Date(), maxAgeMs, expected);
  if (rows.length === 0) {
    io.err(`${history}: no drill has run yet (no history); run restore-drill run drills/ first`);
    return EXIT.fail;
  }
  io.out(`drill | last success | age | allowed | last verdict | (history ${history})`);
  for (const row of rows) {
    io.out(
      `${row.drill} | ${row.lastSuccess ?? 'never'} | ${row.ageMs === undefined ? 'n/a' : formatDuration(row.ageMs)} | ${formatDuration(row.maxAgeMs)} | ` +
        `${row.neverRan ? 'never ran' : row.lastVerdict}${row.stale ? ' | STALE' : ''}`,
    );
  }
  const stale = rows.filter((r) => r.stale);
  if (stale.length) io.err(`${stale.length} drill(s) without a success within their cadence: ${stale.map((r) => `${r.drill}${r.neverRan ? ' (never ran)' : ''}`).join(', ')}`);
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
  if (verdict.keyFingerprint) io.out(`signing key: ${verdict.keyFingerprint} (the report's Evidence section names the key it was signed with)`);
  return verdict.ok ? EXIT.pass : EXIT.fail;
}

async function keygenCommand(paths: string[], io: Io): Promise<number> {
  if (paths.length !== 2) throw new InputError('USAGE', 'keygen: name the private and public key files, e.g. restore-drill keygen evidence.key evidence.pub');
  await generateKeyPair(paths[0]!, paths[1]!);
  io.out(`Ed25519 key pair written: ${paths[0]} (private, keep it secret) and ${paths[1]} (public, give it to auditors); fingerprint ${await keyFingerprint(paths[1]!, 'public')}`);
  return EXIT.pass;
}

/** Removes what runs left behind; kept folders only with --kept, each listed. */
async function cleanCommand(values: Record<string, unknown>, io: Io): Promise<number> {
  const { folders, containers, cache } = await cleanLeftovers({ kept: Boolean(values.kept) });
  for (const folder of folders) io.out(`removed ${folder}`);
  for (const container of containers) io.out(`removed container ${container.slice(0, 12)}`);
  for (const entry of cache) io.out(`removed seed cache ${entry}`);
  io.out(
    `${folders.length} folder(s), ${containers.length} container(s) and ${cache.length} seed cache entr${cache.length === 1 ? 'y' : 'ies'} removed` +
      (values.kept ? '' : '; folders kept on purpose (--keep, failed drills) stay: add --kept to remove them too'),
  );
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
    io.out(
      [
        spec.name,
        spec.engine.kind,
        backupMethod(spec.backup.method).label(spec.backup),
        faultModule(spec.fault.type).label(spec.fault),
        procedureModule(spec.recovery.procedure).label(spec.recovery),
        formatDuration(spec.targets.rto),
        formatDuration(spec.targets.rpo),
        file,
      ].join(' | '),
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
        kept: { type: 'boolean' },
        'pg-bin': { type: 'string' },
        engine: { type: 'string' },
        image: { type: 'string' },
        history: { type: 'string' },
        junit: { type: 'string' },
        metrics: { type: 'string' },
        'sign-key': { type: 'string' },
        'public-key': { type: 'string' },
        'max-age': { type: 'string' },
        shard: { type: 'string' },
        jobs: { type: 'string' },
        out: { type: 'string' },
        dbname: { type: 'string' },
        drill: { type: 'string', multiple: true },
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
      io.out((command && commandUsage(command)) || usage());
      return values.help ? EXIT.pass : EXIT.input;
    }
    if (command === 'status') return await statusCommand(paths, values, io);
    if (command === 'verify-evidence') return await verifyEvidenceCommand(paths, values, io);
    if (command === 'keygen') return await keygenCommand(paths, io);
    if (command === 'clean') return await cleanCommand(values, io);
    if (command === 'merge-reports') return await mergeCommand(paths, values, io);
    if (command === 'fingerprint') return await fingerprintCommand(paths, values, io);
    if (!['run', 'validate', 'list'].includes(command)) {
      throw new InputError('USAGE', `unknown command "${command}"; expected run, validate, list, status, verify-evidence, keygen, clean, merge-reports or fingerprint (see --help)`);
    }
    if (paths.length === 0) throw new InputError('USAGE', `${command}: name drill files or folders, e.g. restore-drill ${command} drills/`);
    if (command === 'run') return await runCommand(paths, values, io);
    if (command === 'validate') return await validateCommand(paths, io);
    return await listCommand(paths, io);
  } catch (error) {
    if (error instanceof RestoreDrillError) {
      io.err(error.message);
      return exitCodeOf(error.code);
    }
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`${errorMessage(error)} (see --help)`);
      return EXIT.input;
    }
    // Not a failure of the drill or of the input: a bug in restore-drill itself.
    io.err(`restore-drill internal error (a bug; please report it with the journal from the reports folder): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return EXIT.internal;
  }
}
