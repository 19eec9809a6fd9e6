/**
 * The files generated from the code, so they cannot drift from it: the JSON
 * Schemas of drill files and journals, the drill reference and the command
 * reference. `npm run docs` writes them; a test fails when a committed copy
 * differs from what the code generates.
 */
import { drillJsonSchema, drillReference, journalJsonSchema } from '../drill/reference.js';
import { commandsReference } from './usage.js';

/** Each published file, relative to the repository's root, and how it is made. */
export const PUBLISHED: Record<string, () => string> = {
  'schemas/drill.schema.json': () => `${JSON.stringify(drillJsonSchema(), null, 2)}\n`,
  'schemas/journal.schema.json': () => `${JSON.stringify(journalJsonSchema(), null, 2)}\n`,
  'docs/drill-format.md': () => `${drillReference()}\n`,
  'docs/commands.md': () => `${commandsReference()}\n`,
};
