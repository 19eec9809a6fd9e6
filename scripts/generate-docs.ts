/**
 * Writes the published forms of the drill file and the journal (src/drill/reference.ts):
 * schemas/drill.schema.json, schemas/journal.schema.json and docs/drill-format.md.
 * Run with `npm run docs` after changing a module's options; the tests fail while a copy is stale.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PUBLISHED } from '../src/cli/published.js';

for (const [path, render] of Object.entries(PUBLISHED)) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, render());
  process.stdout.write(`wrote ${path}\n`);
}
