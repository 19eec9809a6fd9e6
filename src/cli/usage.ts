/**
 * The command's help text, and the command reference in docs/commands.md
 * generated from it and from the error table, so neither can drift.
 */
import { DEFAULT_IMAGE } from '../engines/index.js';
import { ERROR_CODES, EXIT } from '../errors.js';
import { VERSION } from '../support/version.js';

/** Each subcommand: its synopsis, what it does, and the options it takes (`restore-drill <command> --help`). */
const COMMANDS: Record<string, { synopsis: string; does: string; options: string[] }> = {
  run: {
    synopsis: `run <drill.yaml|folder>... [--engine native|docker] [--image IMAGE] [--reports-dir reports] [--keep] [--pg-bin DIR]
                    [--junit FILE] [--metrics FILE] [--history FILE] [--sign-key KEY] [--shard K/N] [--jobs N]`,
    does: 'runs the drills one after another (--jobs: up to N at once) and writes reports/<run-id>/ (report.md, report.html, journal.json, junit.xml, metrics.prom, each drill file, manifest.json)',
    options: ['--engine', '--image', '--reports-dir', '--keep', '--pg-bin', '--junit', '--metrics', '--history', '--sign-key', '--shard', '--jobs'],
  },
  validate: { synopsis: 'validate <drill.yaml|folder>...', does: 'checks every drill file completely and reports every problem of every file; runs nothing', options: [] },
  list: { synopsis: 'list <drill.yaml|folder>...', does: 'one line per drill: engine, backup, fault, recovery, targets', options: [] },
  status: {
    synopsis: 'status [<drill.yaml|folder>...] [--history FILE] [--max-age 35d]',
    does: "each drill's last success and its age; exits 1 when one is older than its cadence (or --max-age), or, with drill files named, never ran",
    options: ['--reports-dir', '--history', '--max-age'],
  },
  'verify-evidence': {
    synopsis: 'verify-evidence <run folder> [--public-key PUB]',
    does: "checks a run folder against its manifest (and signature): exits 1 when anything changed",
    options: ['--public-key'],
  },
  keygen: { synopsis: 'keygen <private key file> <public key file>', does: 'writes an Ed25519 key pair for --sign-key; never overwrites', options: [] },
  'merge-reports': {
    synopsis: 'merge-reports <shard run folder>... [--reports-dir reports] [--history FILE] [--junit FILE] [--metrics FILE] [--sign-key KEY] [--public-key PUB]',
    does: "merges the run folders of `run --shard K/N` into one run folder with every output; each shard must verify against its manifest (and --public-key), and every drill be run by exactly one shard, or nothing is written (exit 2, naming the drills)",
    options: ['--reports-dir', '--history', '--junit', '--metrics', '--sign-key', '--public-key'],
  },
  fingerprint: {
    synopsis: 'fingerprint --out FILE [--dbname URL] [--drill FILE]... [-- pg_dump --snapshot={snapshot} ...]',
    does:
      "writes what the database holds (per table rows, content fingerprint, latest time; every definition) to FILE for a drill to compare its restore with; " +
      'the command after -- runs in the same exported snapshot, so the dump and the fingerprint are one moment; with --drill, the values of its sameAsBackup queries too; no file when the command fails',
    options: ['--out', '--dbname', '--drill'],
  },
  clean: {
    synopsis: 'clean [--kept]',
    does: 'removes what killed runs left (servers, mounts, temp folders, containers) and the seed cache, listing each',
    options: ['--kept'],
  },
};

const OPTIONS: Array<[flag: string, text: string]> = [
  ['--engine KIND', 'native (default: throwaway clusters from local binaries) or docker (testcontainers);\n                     overrides the drill files\' engine.kind'],
  ['--image IMAGE', `the container image for --engine docker (default: $RESTORE_DRILL_IMAGE or ${DEFAULT_IMAGE})`],
  ['--reports-dir DIR', "where each run's folder (report.md, journal.json, logs) is written (default: reports)"],
  ['--keep', "keep every throwaway instance's files (a failed drill's are always kept)"],
  ['--pg-bin DIR', 'PostgreSQL binaries to use (default: $RESTORE_DRILL_PG_BIN, pg_config, PATH, usual folders)'],
  ['--junit FILE', 'also write the JUnit XML here (each run folder has junit.xml)'],
  ['--metrics FILE', 'also write the Prometheus textfile here, atomically (node exporter textfile collector)'],
  ['--history FILE', 'the history file (default: <reports-dir>/history.jsonl)'],
  ['--sign-key KEY', "sign the run's evidence manifest with this Ed25519 private key (restore-drill keygen)"],
  ['--public-key PUB', 'verify-evidence: the signature must be by this key, not only the one the manifest names'],
  ['--shard K/N', 'run: only shard K of N of the drills named (split by their last durations); merge the shards with merge-reports'],
  ['--jobs N', "run: up to N drills at once (default 1); each drill's report says how many ran beside it, as its timings competed for the cores"],
  ['--max-age AGE', 'status: a drill whose last success is older fails the command (default 35d)'],
  ['--out FILE', 'fingerprint: the file to write (beside a dump: <dump>.fingerprint.json, which a drill picks up)'],
  ['--dbname URL', 'fingerprint: the database to read (default: the PG* variables, as pg_dump)'],
  ['--drill FILE', "fingerprint: also record the value of each sameAsBackup query of this drill file (or folder), read in the same snapshot, for the drill's comparison"],
  ['--kept', 'clean: also remove the folders runs kept on purpose (--keep, failed drills)'],
  ['-h, --help', 'this text; after a command, that command\'s'],
  ['-v, --version', 'the version'],
];

function optionLines(flags?: readonly string[]): string {
  return OPTIONS.filter(([flag]) => !flags || flags.includes(flag.split(' ')[0]!))
    .map(([flag, text]) => `  ${flag.padEnd(17)}  ${text}`)
    .join('\n');
}

const SYNOPSIS = `Usage:
${Object.values(COMMANDS)
  .map((c) => `  restore-drill ${c.synopsis}`)
  .join('\n')}

Options:
${optionLines()}`;

const EXIT_MEANINGS: Record<number, string> = {
  [EXIT.pass]: 'every drill passed; status: every drill passed recently enough; verify-evidence: nothing changed',
  [EXIT.fail]: 'a drill failed a check or a target, or ended unsupported, unknown or interrupted; status: a drill is stale; verify-evidence: something changed',
  [EXIT.input]:
    'bad input (a flag, a drill file, the history file, a key), a reports folder that cannot take the evidence (no permission, no room, full mid-run), or a machine that cannot run drills (no PostgreSQL binaries, no Docker engine, a server that will not start); nothing was judged',
  [EXIT.internal]: 'a bug in restore-drill; the journal in the reports folder says where it stopped',
  [EXIT.interrupted]: 'interrupted by Ctrl-C (SIGINT); servers stopped, temp folders removed, the journal says interrupted',
  [EXIT.terminated]: 'terminated by SIGTERM, handled as Ctrl-C',
};

const ENVIRONMENT: Array<[string, string]> = [
  ['RESTORE_DRILL_PG_BIN', 'folder of the PostgreSQL binaries. Without it, the harness looks at `pg_config --bindir`, then `PATH`, `/usr/lib/postgresql/*/bin`, `/usr/pgsql-*/bin`, `/usr/local/pgsql/bin` and Homebrew.'],
  ['RESTORE_DRILL_IMAGE', 'the default image for `--engine docker`'],
  ['RESTORE_DRILL_OS_USER', 'when run as root, the OS user the servers run as (default `postgres`)'],
  [
    'RESTORE_DRILL_CACHE',
    'where seeded clusters are kept across runs (native engine; default `$XDG_CACHE_HOME/restore-drill` or `~/.cache/restore-drill`); `off` seeds every drill afresh; `restore-drill clean` empties it',
  ],
  ['GITHUB_STEP_SUMMARY', "when set, the run's summary is appended to it"],
  ['TESTCONTAINERS_RYUK_DISABLED, TESTCONTAINERS_HOST_OVERRIDE', 'set to `true` and `localhost` by the CLI unless given (docs/engines.md)'],
  ['RESTORE_DRILL_REQUIRE_DOCKER=1', 'tests: a missing Docker engine or image fails instead of skipping (CI sets it)'],
];

export function usage(): string {
  const codes = Object.entries(EXIT_MEANINGS).map(([code]) => code).join(', ');
  return `restore-drill ${VERSION}: proves PostgreSQL/TimescaleDB backups really restore.\n\n${SYNOPSIS}\n\nExit codes (${codes}): see docs/commands.md.\n${Object.entries(EXIT_MEANINGS)
    .map(([code, meaning]) => `  ${code.padEnd(4)}${meaning.split(';')[0]}`)
    .join('\n')}`;
}

/** One command's help, or undefined for a name that is not a command. */
export function commandUsage(command: string): string | undefined {
  const found = COMMANDS[command];
  if (!found) return undefined;
  const options = optionLines([...found.options, '-h,']);
  return `Usage: restore-drill ${found.synopsis}\n\n${found.does}.\n\nOptions:\n${options}\n\nExit codes: see restore-drill --help and docs/commands.md.`;
}

export function commandsReference(): string {
  return [
    '<!-- Generated by `npm run docs` from src/cli/usage.ts and src/errors.ts. Do not edit by hand. -->',
    '# Commands',
    '',
    '```',
    SYNOPSIS,
    '```',
    '',
    '## Exit codes',
    '',
    '| exit code | meaning |',
    '| --- | --- |',
    ...Object.entries(EXIT_MEANINGS).map(([code, meaning]) => `| ${code} | ${meaning} |`),
    '',
    '## Error codes',
    '',
    'Every error the harness reports carries a stable code (in the message and as `errorCode` in the journal):',
    '',
    '| code | exit code | meaning |',
    '| --- | --- | --- |',
    ...Object.entries(ERROR_CODES).map(([code, { exit, meaning }]) => `| \`${code}\` | ${exit} | ${meaning} |`),
    '',
    '## Environment',
    '',
    '| variable | meaning |',
    '| --- | --- |',
    ...ENVIRONMENT.map(([name, meaning]) => `| \`${name}\` | ${meaning} |`),
    '',
  ].join('\n');
}
