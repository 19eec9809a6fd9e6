/**
 * Everything a finished (or interrupted) run leaves behind, in the order that
 * keeps each true: the history line first (so the report can show trends),
 * then journal.json, report.md, junit.xml and metrics.prom, the CI step
 * summary, and last the evidence manifest over all of it.
 */
import { appendFile, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeManifest } from '../evidence/bundle.js';
import { appendHistory, entriesFor, lastRuns, readHistory } from '../history/history.js';
import type { RunJournal } from '../model/journal.js';
import { renderJUnit } from '../report/junit.js';
import { renderMarkdown, renderSummary } from '../report/markdown.js';
import { renderPrometheus, writeTextfileAtomically } from '../report/metrics.js';
import { writeJournal } from './journal-file.js';

const TREND_RUNS = 10;

export interface OutputOptions {
  /** The history file (one JSON line per drill per run). */
  history: string;
  /** Also write the JUnit XML here (a CI job's test-report path). */
  junit?: string;
  /** Also write the Prometheus textfile here (the node exporter's textfile directory). */
  metrics?: string;
  /** Ed25519 private key (PEM) to sign the evidence manifest with. */
  signingKey?: string;
  /** $GITHUB_STEP_SUMMARY: the summary is appended to it. */
  stepSummary?: string;
}

export async function writeOutputs(dir: string, journal: RunJournal, options: OutputOptions): Promise<{ report: string; junit: string; metrics: string }> {
  const previous = await readHistory(options.history);
  const all = [...previous, ...entriesFor(journal)];
  journal.recentRuns = Object.fromEntries(
    journal.drills.map((d) => [
      d.name,
      lastRuns(all, d.name, TREND_RUNS).map((e) => ({ runId: e.runId, startedAt: e.startedAt, verdict: e.verdict, rtoMs: e.rtoMs, rpoMs: e.rpoMs, lostRows: e.lostRows })),
    ]),
  );
  await appendHistory(options.history, journal);

  writeJournal(dir, journal);
  const report = join(dir, 'report.md');
  await writeFile(report, renderMarkdown(journal));
  const junit = join(dir, 'junit.xml');
  await writeFile(junit, renderJUnit(journal));
  const metrics = join(dir, 'metrics.prom');
  const prometheus = renderPrometheus(journal, previous);
  await writeFile(metrics, prometheus);
  if (options.junit) {
    await mkdir(dirname(options.junit), { recursive: true });
    await copyFile(junit, options.junit);
  }
  if (options.metrics) await writeTextfileAtomically(options.metrics, prometheus);
  if (options.stepSummary) await appendFile(options.stepSummary, `${renderSummary(journal)}\n`);
  // Last: the manifest covers every file above, and anything written later would show as added.
  await writeManifest(dir, { signingKey: options.signingKey });
  return { report, junit, metrics };
}
