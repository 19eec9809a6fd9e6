/**
 * pg_checksums --check on a restored cluster, stopped: every data page's
 * checksum recomputed. A base backup made elsewhere is verified file by file
 * against its manifest, but the manifest only proves the copy equals what
 * was read; a page already damaged when the team's pg_basebackup read it
 * (with --no-verify-checksums, or by a tool that never checks) passes that
 * and the replay. This reads every page the restore produced.
 */
import type { CommandResult } from '../exec/command.js';
import type { CheckResult } from '../model/verdict.js';

/** What pg_checksums prints at the end of a check: `Blocks scanned: 123`, `Bad checksums: 0`. */
const figure = (said: string, label: string): number | undefined => {
  const found = new RegExp(`^${label}:\\s+(\\d+)$`, 'm').exec(said);
  return found ? Number(found[1]) : undefined;
};

/** The check, from pg_checksums' result, or from the reason the data folder could not be reached to run it. */
export function judgePageChecksums(result: CommandResult | { unreachable: string }): CheckResult {
  if ('unreachable' in result) return { name: 'page-checksums', verdict: 'unknown', summary: `pages not checked: ${result.unreachable}`, evidence: {} };
  const said = `${result.stdout}\n${result.stderr}`.trim();
  const blocks = figure(said, 'Blocks scanned');
  const bad = figure(said, 'Bad checksums');
  const evidence = { exitCode: result.exitCode, blocksScanned: blocks, badChecksums: bad, output: said.slice(0, 4000) };
  if (/data checksums are not enabled/.test(said)) {
    return { name: 'page-checksums', verdict: 'unknown', summary: "pages not checked: the backup's cluster has no data checksums (initdb --data-checksums, or pg_checksums --enable on it)", evidence };
  }
  if (result.exitCode === 0 && bad === 0 && blocks !== undefined) {
    return { name: 'page-checksums', verdict: 'pass', summary: `pg_checksums --check: ${blocks} data pages read, every checksum right`, evidence };
  }
  const failures = said.split('\n').filter((line) => /checksum verification failed/.test(line));
  if (bad !== undefined && bad > 0) {
    return { name: 'page-checksums', verdict: 'fail', summary: `pg_checksums --check: ${bad} of ${blocks ?? '?'} data pages with a wrong checksum; first: ${failures[0]?.replace(/^pg_checksums: error: /, '') ?? 'not named'}`, evidence };
  }
  return { name: 'page-checksums', verdict: 'unknown', summary: `pg_checksums could not check the restored cluster (exit ${result.exitCode ?? 'none'}): ${said.split('\n')[0] ?? ''}`, evidence };
}
