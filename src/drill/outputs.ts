/**
 * Everything a finished (or interrupted) run leaves behind, in the order that
 * keeps each true: the history line first (so the report can show trends),
 * then journal.json, report.md, report.html, junit.xml and metrics.prom, the
 * evidence manifest over all of it (the drill files were copied in as each
 * drill began), and last the CI step summary, which lives outside the run
 * folder and so can carry the manifest's own SHA-256.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keyFingerprint, writeManifest } from '../evidence/bundle.js';
import { appendHistory, entriesFor, lastRuns, readHistory } from '../history/history.js';
import { errorMessage, OutputError, RestoreDrillError } from '../errors.js';
import type { RunJournal } from '../model/journal.js';
import { renderHtml } from '../report/html.js';
import { renderJUnit } from '../report/junit.js';
import { renderMarkdown, renderSummary } from '../report/markdown.js';
import { renderPrometheus } from '../report/metrics.js';
import { writeFileAtomically } from '../support/files.js';
import { sha256File } from '../support/sha256.js';
import { releaseRoom, writeJournal } from './journal-file.js';

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

export async function writeOutputs(
  dir: string,
  journal: RunJournal,
  options: OutputOptions,
): Promise<{ report: string; html: string; junit: string; metrics: string; manifestSha256: string; warnings: string[] }> {
  // The room kept for the journal's last word is not evidence: it goes before anything is written or listed.
  releaseRoom(dir);
  const warnings: string[] = [];
  // The history only feeds the trends: a history that cannot be read costs them, never the report of a run that happened.
  const previous = await readHistory(options.history).catch((error: unknown) => {
    warnings.push(`the report has no trends: ${errorMessage(error)}`);
    return [];
  });
  const all = [...previous, ...entriesFor(journal)];
  journal.recentRuns = Object.fromEntries(
    journal.drills.map((d) => [
      d.name,
      lastRuns(all, d.name, TREND_RUNS).map((e) => ({ runId: e.runId, startedAt: e.startedAt, verdict: e.verdict, rtoMs: e.rtoMs, rpoMs: e.rpoMs, lostRows: e.lostRows })),
    ]),
  );
  await written(options.history, () => appendHistory(options.history, journal));

  await written(join(dir, 'journal.json'), async () => writeJournal(dir, journal));
  // The key was checked before the run: its fingerprint is known before the manifest it will sign.
  const context = { runDir: dir, ...(options.signingKey ? { signingKeyFingerprint: await keyFingerprint(options.signingKey, 'private') } : {}) };
  const report = join(dir, 'report.md');
  const markdown = renderMarkdown(journal, context);
  await written(report, () => writeFileAtomically(report, markdown));
  const html = join(dir, 'report.html');
  const page = renderHtml(journal, context);
  await written(html, () => writeFileAtomically(html, page));
  const junit = join(dir, 'junit.xml');
  const junitXml = renderJUnit(journal);
  await written(junit, () => writeFileAtomically(junit, junitXml));
  const metrics = join(dir, 'metrics.prom');
  const prometheus = renderPrometheus(journal, previous);
  await written(metrics, () => writeFileAtomically(metrics, prometheus));
  if (options.junit) await written(options.junit, () => writeFileAtomically(options.junit!, junitXml));
  if (options.metrics) await written(options.metrics, () => writeFileAtomically(options.metrics!, prometheus));
  // The manifest covers every file above, and anything written in the folder later would show as added.
  await written(join(dir, 'manifest.json'), () => writeManifest(dir, { signingKey: options.signingKey }));
  const manifestSha256 = await sha256File(join(dir, 'manifest.json'));
  if (options.stepSummary) await written(options.stepSummary, () => appendFile(options.stepSummary!, `${renderSummary(journal, { ...context, manifestSha256 })}\n`));
  return { report, html, junit, metrics, manifestSha256, warnings };
}

/** A write the disk or a permission refused is an output error naming the file; our own errors pass through. */
async function written(path: string, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (error instanceof RestoreDrillError) throw error;
    throw new OutputError(`${path}: could not be written (${errorMessage(error)}); free space or fix permissions there, then run again`, { cause: error });
  }
}
