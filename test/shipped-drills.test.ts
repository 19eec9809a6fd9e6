/**
 * The drills we ship, run as a user runs them: every one in drills/ passes,
 * every one in drills/negative/ fails as designed, and each journal matches
 * the published schema (checked by runDrills). Their reports tick no box a
 * check did not earn, lead with what failed, and stay readable in size.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import type { RunJournal } from '../src/model/journal.js';
import { checklist } from '../src/report/checklist.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { runDrills, tempDir } from './helpers.js';

const reports = tempDir('shipped-reports');

/** The journal on disk against the published JSON Schema, read by a validator that is not ours. */
function validatesAgainstPublishedSchema(dir: string): string[] {
  const schema = JSON.parse(readFileSync('schemas/journal.schema.json', 'utf8')) as object;
  const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
  validate(JSON.parse(readFileSync(join(dir, 'journal.json'), 'utf8')));
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

/** Every box report.md ticks is one the checklist ticks, and every such box rests on checks that all passed. */
function ticksOnlyWhatPassed(journal: RunJournal, markdown: string): void {
  for (const drill of journal.drills) {
    const start = markdown.indexOf(`\n## ${drill.name}\n`);
    const section = markdown.slice(start, markdown.indexOf('\n## ', start + 4));
    const items = checklist(drill);
    expect({ drill: drill.name, ticked: [...section.matchAll(/^- \[x\] \*\*([^*]+)\*\*/gm)].map((m) => m[1]) }).toEqual({
      drill: drill.name,
      ticked: items.filter((i) => i.state === 'ticked').map((i) => i.item),
    });
    for (const item of items.filter((i) => i.state === 'ticked')) {
      const notPassed = drill.checks.filter((c) => item.checks.includes(c.name) && c.verdict !== 'pass').map((c) => `${c.name} ${c.verdict}`);
      expect({ drill: drill.name, item: item.item, notPassed }).toEqual({ drill: drill.name, item: item.item, notPassed: [] });
    }
  }
}

/** The journal as ten runs of history would leave it: the trends at their longest. */
function withHistory(journal: RunJournal, runs = 10): RunJournal {
  const day = 86_400_000;
  const recentRuns = Object.fromEntries(
    journal.drills.map((d) => [
      d.name,
      Array.from({ length: runs }, (_, i) => ({
        runId: `history-${i}`,
        startedAt: new Date(Date.parse(d.startedAt) - (runs - 1 - i) * 30 * day).toISOString(),
        verdict: d.verdict,
        rtoMs: d.rto?.measuredMs === undefined ? undefined : d.rto.measuredMs * (1 + i / 20),
        rpoMs: d.rpo?.measuredMs,
        lostRows: d.rpo?.lostRows,
      })),
    ]),
  );
  return { ...journal, recentRuns };
}

describe('shipped drills', () => {
  it('drills/ all pass (as root: two of them mount a tmpfs)', async () => {
    const { journal, dir } = await runDrills(['drills'], reports);
    expect(validatesAgainstPublishedSchema(dir)).toEqual([]);
    expect(journal.drills.length).toBeGreaterThanOrEqual(15);
    const notPassed = journal.drills.filter((d) => d.verdict !== 'pass').map((d) => `${d.name}: ${d.status} ${d.error ?? d.checks.filter((c) => c.verdict !== 'pass').map((c) => c.summary).join('; ')}`);
    if (process.getuid?.() === 0) expect(notPassed).toEqual([]);
    else expect(journal.drills.filter((d) => d.verdict !== 'pass' && d.status !== 'unsupported').map((d) => d.name)).toEqual([]);
    expect(journal.verdict).toBe(process.getuid?.() === 0 ? 'pass' : 'unknown');
    const markdown = renderMarkdown(journal);
    ticksOnlyWhatPassed(journal, markdown);
    // Readable: the report grows with its drills, what each drill costs must not. About 6 KB a drill (80 KB for the
    // 13 drills this bound was set on), a little more with ten runs of trends.
    const budget = (kib: number) => journal.drills.length * kib * 1024;
    expect(Buffer.byteLength(markdown)).toBeLessThan(budget(6));
    expect(Buffer.byteLength(renderMarkdown(withHistory(journal)))).toBeLessThan(budget(6.75));
  }, 900_000);

  it('drills/negative/ all fail, each with a failing check', async () => {
    const { journal, dir } = await runDrills(['drills/negative'], reports, { jobs: 2 });
    expect(validatesAgainstPublishedSchema(dir)).toEqual([]);
    for (const drill of journal.drills) {
      expect({ drill: drill.name, verdict: drill.verdict }).toEqual({ drill: drill.name, verdict: 'fail' });
      expect(drill.checks.some((c) => c.verdict === 'fail')).toBe(true);
    }
    const markdown = renderMarkdown(journal);
    ticksOnlyWhatPassed(journal, markdown);
    // Each failed drill and its first failing check lead the report.
    const first = markdown.split('\n').slice(0, 15).join('\n');
    for (const drill of journal.drills) {
      expect(first).toContain(`**[${drill.name}](#${drill.name})** failed \`${drill.checks.find((c) => c.verdict === 'fail')!.name}\``);
    }
  }, 600_000);
});
