/**
 * The drills we ship, run as a user runs them: every one in drills/ passes,
 * every one in drills/negative/ fails as designed, and each journal matches
 * the published schema (checked by runDrills).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { runDrills, tempDir } from './helpers.js';

const reports = tempDir('shipped-reports');

/** The journal on disk against the published JSON Schema, read by a validator that is not ours. */
function validatesAgainstPublishedSchema(dir: string): string[] {
  const schema = JSON.parse(readFileSync('schemas/journal.schema.json', 'utf8')) as object;
  const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
  validate(JSON.parse(readFileSync(join(dir, 'journal.json'), 'utf8')));
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

describe('shipped drills', () => {
  it('drills/ all pass (as root: two of them mount a tmpfs)', async () => {
    const { journal, dir } = await runDrills(['drills'], reports);
    expect(validatesAgainstPublishedSchema(dir)).toEqual([]);
    expect(journal.drills.length).toBeGreaterThanOrEqual(13);
    const notPassed = journal.drills.filter((d) => d.verdict !== 'pass').map((d) => `${d.name}: ${d.status} ${d.error ?? d.checks.filter((c) => c.verdict !== 'pass').map((c) => c.summary).join('; ')}`);
    if (process.getuid?.() === 0) expect(notPassed).toEqual([]);
    else expect(journal.drills.filter((d) => d.verdict !== 'pass' && d.status !== 'unsupported').map((d) => d.name)).toEqual([]);
    expect(journal.verdict).toBe(process.getuid?.() === 0 ? 'pass' : 'unknown');
  }, 900_000);

  it('drills/negative/ all fail, each with a failing check', async () => {
    const { journal, dir } = await runDrills(['drills/negative'], reports);
    expect(validatesAgainstPublishedSchema(dir)).toEqual([]);
    for (const drill of journal.drills) {
      expect({ drill: drill.name, verdict: drill.verdict }).toEqual({ drill: drill.name, verdict: 'fail' });
      expect(drill.checks.some((c) => c.verdict === 'fail')).toBe(true);
    }
  }, 600_000);
});
