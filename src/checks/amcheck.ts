/**
 * pg_amcheck on a restored database: every table's heap and every B-tree
 * index checked, and with --heapallindexed every heap tuple found in its
 * indexes. A restore that finished can still hold a table its index does not
 * match; a backup made elsewhere has no baseline to catch that, this does.
 */
import type { CommandResult } from '../exec/command.js';
import type { CheckResult } from '../model/verdict.js';

/** pg_amcheck's exit codes: 0 nothing found, 2 corruption found, anything else it could not check. */
export function judgeAmcheck(database: string, result: CommandResult): CheckResult {
  const said = `${result.stdout}\n${result.stderr}`.trim();
  const first = said.split('\n').slice(0, 3).join(' / ');
  const evidence = { database, exitCode: result.exitCode, output: said.slice(0, 4000) };
  if (result.exitCode === 0) return { name: 'amcheck', verdict: 'pass', summary: `pg_amcheck --heapallindexed found no corruption in ${database}: every heap and B-tree index checked`, evidence };
  if (result.exitCode === 2) return { name: 'amcheck', verdict: 'fail', summary: `pg_amcheck found corruption in ${database}: ${first}`, evidence };
  return { name: 'amcheck', verdict: 'fail', summary: `pg_amcheck could not check ${database} (exit ${result.exitCode ?? 'none'}): ${first}`, evidence };
}
