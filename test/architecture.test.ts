/**
 * The house's rules, as `npm test` checks them: the import arrows written in
 * .dependency-cruiser.cjs, no dead code (knip), the published schemas and
 * drill reference equal to what the code generates, and a new fault is one
 * module plus one registry line.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { PUBLISHED } from '../src/cli/published.js';
import { tempDir } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..');
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

describe('the house', () => {
  it('follows every written import rule, with no cycle', async () => {
    const result = await execa(bin('depcruise'), ['src', '--config', '.dependency-cruiser.cjs'], { cwd: ROOT, reject: false });
    expect(result.stdout).toMatch(/no dependency violations found/);
    expect(result.exitCode).toBe(0);
  });

  it('fails the check when an import runs against the arrows, naming the rule', async () => {
    const dir = tempDir('arrows');
    mkdirSync(join(dir, 'src', 'engines'), { recursive: true });
    mkdirSync(join(dir, 'src', 'backup'), { recursive: true });
    writeFileSync(join(dir, 'tsconfig.json'), readFileSync(join(ROOT, 'tsconfig.json')));
    writeFileSync(join(dir, 'src', 'backup', 'method.ts'), 'export const method = 1;\n');
    writeFileSync(join(dir, 'src', 'engines', 'engine.ts'), "import { method } from '../backup/method.js';\nexport const engine = method;\n");
    const result = await execa(bin('depcruise'), ['src', '--config', join(ROOT, '.dependency-cruiser.cjs')], { cwd: dir, reject: false });
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toMatch(/engines-are-ground: src\/engines\/engine\.ts → src\/backup\/method\.ts/);
  });

  it('has no unused file, export or dependency', async () => {
    const result = await execa(bin('knip'), [], { cwd: ROOT, reject: false });
    expect(result.stdout).toBe('');
    expect(result.exitCode).toBe(0);
  }, 180_000);

  it.each(Object.keys(PUBLISHED))('publishes %s as the code generates it (npm run docs)', (path) => {
    expect(readFileSync(join(ROOT, path), 'utf8')).toBe(PUBLISHED[path]!());
  });
});
