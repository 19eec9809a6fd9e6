/**
 * Every temp folder of a test run (the tests' own and the harness's, kept
 * drills included) goes under one folder made for this run, removed at its
 * end: nothing is left in the temp folder, and nothing of another run is
 * touched.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'rdt-'));
  // The servers run as the postgres user when the tests run as root: it must reach its folders in here.
  chmodSync(root, 0o755);
  process.env.TMPDIR = root;
  // Seeded clusters are cached for this run's drills only, and go with it.
  process.env.RESTORE_DRILL_CACHE = join(root, 'seed-cache');
  return () => rmSync(root, { recursive: true, force: true, maxRetries: 3 });
}
