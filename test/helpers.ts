/** Shared test helpers: drill files written on the fly, in-process runs, and leak probes. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { expect } from 'vitest';
import type { DrillJournal, RunJournal } from '../src/model/journal.js';
import { journalProblems } from '../src/drill/journal-schema.js';
import { loadDrills } from '../src/drill/load.js';
import { DrillRun, type RunOptions } from '../src/drill/run.js';
import { dockerAvailable } from '../src/engines/docker/runtime.js';
import { execa } from 'execa';

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `rd-test-${label}-`));
}

/** A tiny, fast drill: small dataset, short workload, overridable per test. */
export function drillYaml(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'test-drill',
    dataset: { scale: 'tiny', seed: 7 },
    workload: { rate: 50, lead: '300ms', afterBackup: '700ms' },
    backup: { method: 'pg_dump' },
    fault: { type: 'drop-table', table: 'candles' },
    recovery: { procedure: 'restore-table' },
    targets: { rto: '15m', rpo: '24h' },
    ...overrides,
  };
}

export function writeDrill(dir: string, drill: Record<string, unknown>): string {
  const file = join(dir, `${drill.name as string}.yaml`);
  writeFileSync(file, stringify(drill));
  return file;
}

/**
 * Runs drills through the library, as the CLI does, and returns the journal and the run folder.
 * Every journal.json written on the way must match the published schema.
 */
export async function runDrills(files: string[], reportsDir: string, options: Partial<RunOptions> = {}): Promise<{ journal: RunJournal; dir: string }> {
  const run = new DrillRun(await loadDrills(files), { reportsDir, keep: false, listeners: [], ...options });
  const journal = await run.run();
  expect(journalProblems(JSON.parse(readFileSync(join(run.dir, 'journal.json'), 'utf8')))).toEqual([]);
  return { journal, dir: run.dir };
}

/** The recovery's record, read field by field whatever the procedure (the journal types it per procedure). */
export function recoveryOf(drill: DrillJournal): Record<string, unknown> | undefined {
  return drill.recovery;
}

export function check(drill: DrillJournal, name: string) {
  const found = drill.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no check ${name} in ${drill.checks.map((c) => c.name).join(', ')}`);
  return found;
}

/** Live (non-zombie) processes whose command line mentions the text, e.g. a run id. */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const state = /^State:\s+(\w)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (state !== 'Z' && cmdline.includes(text) && Number(pid) !== process.pid) found.push(`${pid}: ${cmdline}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** The harness's temp folders of a run still on disk. */
export function tempFoldersOf(runId: string): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith(`restore-drill-${runId}`));
}

/** Why the tool's own image (scripts/docker/build-tool-image.sh) cannot be used here, or undefined; CI (RESTORE_DRILL_REQUIRE_DOCKER=1) must have it. */
export async function toolImageMissing(image: string): Promise<string | undefined> {
  const noDocker = await dockerAvailable();
  const missing = noDocker
    ? `no Docker engine answers (${noDocker.split('\n')[0]})`
    : (await execa('docker', ['image', 'inspect', image], { reject: false })).exitCode === 0
      ? undefined
      : `image ${image} is not present (build it: scripts/docker/build-tool-image.sh)`;
  if (process.env.RESTORE_DRILL_REQUIRE_DOCKER === '1' && missing) throw new Error(`RESTORE_DRILL_REQUIRE_DOCKER=1 but ${missing}`);
  return missing;
}

/** The one run folder a command wrote under `reports`, and its journal. */
export function onlyRun(reports: string): { folder: string; journal: RunJournal } {
  const runs = readdirSync(reports).filter((name) => /^\d{8}T/.test(name));
  expect(runs).toHaveLength(1);
  const folder = join(reports, runs[0]!);
  return { folder, journal: JSON.parse(readFileSync(join(folder, 'journal.json'), 'utf8')) as RunJournal };
}
