/**
 * Where a run's evidence goes is checked before the first drill: a reports
 * folder that cannot be written, or has no room, is an input error now, not
 * a run whose report is lost after an hour of drilling.
 */
import { constants } from 'node:fs';
import { access, mkdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorMessage, OutputError } from '../errors.js';
import { formatBytes } from '../support/units.js';
import type { OutputOptions } from './outputs.js';

/** A run writes its journal, reports and the servers' logs: a few MB, with room to spare. */
const MIN_FREE_BYTES = 64 * 1024 * 1024;

/** Proves a folder can be made and written in by writing (and removing) a file in it. */
async function checkFolder(folder: string, what: string): Promise<void> {
  const probe = join(folder, `.restore-drill-probe-${process.pid}`);
  try {
    await mkdir(folder, { recursive: true });
    await writeFile(probe, '');
  } catch (error) {
    throw new OutputError(`${what}: cannot write in ${folder} (${errorMessage(error)}); choose a folder you can write to`, { cause: error });
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

/** A file output: its folder writable, and the path itself not a folder or a file we may not replace. */
async function checkFile(path: string, what: string): Promise<void> {
  await checkFolder(dirname(path), what);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new OutputError(`${what}: ${path} is a folder; name a file`);
  if (existing) {
    await access(path, constants.W_OK).catch((error: unknown) => {
      throw new OutputError(`${what}: ${path} cannot be written (${errorMessage(error)}); choose another path or fix its permissions`, { cause: error });
    });
  }
}

export async function checkOutputPaths(reportsDir: string, outputs: OutputOptions): Promise<void> {
  await checkFolder(reportsDir, '--reports-dir');
  const { bavail, bsize } = await statfs(reportsDir);
  const free = Number(bavail) * Number(bsize);
  if (free < MIN_FREE_BYTES) {
    throw new OutputError(
      `--reports-dir: ${reportsDir} has ${formatBytes(free)} free; a run needs at least ${formatBytes(MIN_FREE_BYTES)} for its journal, reports and server logs. Free space there or choose another --reports-dir`,
    );
  }
  await checkFile(outputs.history, '--history');
  if (outputs.junit) await checkFile(outputs.junit, '--junit');
  if (outputs.metrics) await checkFile(outputs.metrics, '--metrics');
  if (outputs.stepSummary) await checkFile(outputs.stepSummary, 'GITHUB_STEP_SUMMARY');
}
