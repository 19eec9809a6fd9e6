/**
 * Malformed drill files generated from the published schema: for every field
 * of every backup method, fault and procedure, a wrong type, a value outside
 * its list or bounds, and an unknown key beside it; then hostile YAML. Each
 * must end `validate` with exit 2, naming the file and the field, and no
 * stack trace. Nothing runs: validation alone is under test.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/commands.js';
import { drillYaml, tempDir } from './helpers.js';

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  pattern?: string;
  minLength?: number;
}

const schema = JSON.parse(readFileSync('schemas/drill.schema.json', 'utf8')) as Schema;

interface Case {
  label: string;
  drill: Record<string, unknown>;
  /** The field the message must name (`backup.generations`, or the object holding an unknown key). */
  field: string;
}

function typesOf(node: Schema): string[] {
  return node.type === undefined ? [] : Array.isArray(node.type) ? node.type : [node.type];
}

/** Values a field of this schema must refuse. */
function badValues(node: Schema): Array<[string, unknown]> {
  const types = typesOf(node);
  const bad: Array<[string, unknown]> = [];
  if (types.includes('object')) bad.push(['a scalar for an object', 'scalar']);
  else if (types.includes('string') && types.includes('number')) bad.push(['not a duration', 'forever'], ['a negative duration', '-5s'], ['an overflowing duration', `${'9'.repeat(400)}d`]);
  else if (types.includes('string')) bad.push(['a list for a string', ['x']]);
  else if (types.includes('integer') || types.includes('number')) bad.push(['text for a number', 'many']);
  else if (types.includes('boolean')) bad.push(['text for a boolean', 'maybe']);
  if (node.enum) bad.push(['a value outside the list', 'not-in-the-list']);
  if (typesOf(node).includes('integer')) bad.push(['a fraction for an integer', 1.5]);
  if (node.minimum !== undefined) bad.push(['one below the minimum', node.minimum - 1]);
  if (node.exclusiveMinimum !== undefined) bad.push(['the exclusive minimum', node.exclusiveMinimum]);
  if (node.maximum !== undefined) bad.push(['one above the maximum', node.maximum + 1]);
  if (node.pattern) bad.push(['a value off the pattern', 'Has Spaces!']);
  if (node.minLength) bad.push(['an empty string', '']);
  return bad;
}

/** A value a required field of a variant accepts, so the variant's other fields can be tried alone. */
function plausible(node: Schema): unknown {
  if (node.const !== undefined) return node.const;
  if (node.enum) return node.enum[0];
  const types = typesOf(node);
  if (types.includes('string') && types.includes('number')) return '1s';
  if (types.includes('integer') || types.includes('number')) return node.minimum ?? 1;
  if (types.includes('array')) return [];
  return 'candles';
}

/** The variants of a section (backup, fault, recovery) or the section itself, each with a minimal valid body. */
function variants(node: Schema): Array<{ body: Record<string, unknown>; properties: Record<string, Schema>; label: string }> {
  const each = node.oneOf ?? [node];
  return each.map((variant) => {
    const body: Record<string, unknown> = {};
    for (const name of variant.required ?? []) body[name] = plausible(variant.properties![name]!);
    const discriminator = Object.entries(variant.properties ?? {}).find(([, p]) => p.const !== undefined);
    return { body, properties: variant.properties ?? {}, label: discriminator ? String(discriminator[1].const) : '' };
  });
}

function cases(): Case[] {
  const base = drillYaml({ name: 'fuzzed' });
  const found: Case[] = [];
  for (const [section, node] of Object.entries(schema.properties!)) {
    if (!typesOf(node).includes('object') && !node.oneOf) {
      for (const [label, value] of badValues(node)) found.push({ label: `${section}: ${label}`, drill: { ...base, [section]: value }, field: section });
      continue;
    }
    for (const variant of variants(node)) {
      const where = `${section}${variant.label ? ` (${variant.label})` : ''}`;
      for (const [field, fieldSchema] of Object.entries(variant.properties)) {
        if (fieldSchema.const !== undefined) continue;
        for (const [label, value] of badValues(fieldSchema)) {
          found.push({ label: `${where}.${field}: ${label}`, drill: { ...base, [section]: { ...variant.body, [field]: value } }, field: `${section}.${field}` });
        }
      }
      found.push({ label: `${where}: an unknown key`, drill: { ...base, [section]: { ...variant.body, zzz_unknown: 1 } }, field: section });
    }
  }
  found.push({ label: 'top level: an unknown key', drill: { ...base, zzz_unknown: 1 }, field: '(top level)' });
  for (const required of schema.required ?? []) {
    const { [required]: _left, ...rest } = base;
    found.push({ label: `${required}: missing`, drill: rest, field: required });
  }
  return found;
}

function validate(file: string): { code: Promise<number>; err: string[] } {
  const err: string[] = [];
  const code = main(['validate', file], { out: () => {}, err: (line) => err.push(line) });
  return { code, err };
}

function noStackTrace(text: string): void {
  expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(text).not.toMatch(/internal error/);
}

describe('fuzzed drill files', () => {
  const generated = cases();

  it('the unfuzzed drill is valid, so every failure below is the mutation', async () => {
    const dir = tempDir('fuzz-base');
    const file = join(dir, 'fuzzed.yaml');
    writeFileSync(file, stringify(drillYaml({ name: 'fuzzed' })));
    expect(await validate(file).code).toBe(0);
    // Every backup method, fault and procedure was reached.
    for (const section of ['backup', 'fault', 'recovery']) {
      for (const variant of variants(schema.properties![section]!)) {
        expect(generated.some((c) => c.label.startsWith(`${section} (${variant.label})`)), `${section} ${variant.label}`).toBe(true);
      }
    }
  });

  it('every generated mutation exits 2, naming the file and the field, without a stack trace', async () => {
    const dir = tempDir('fuzz');
    const missed: string[] = [];
    for (const [index, each] of generated.entries()) {
      const file = join(dir, `case-${index}.yaml`);
      writeFileSync(file, stringify(each.drill));
      const { code, err } = validate(file);
      const exit = await code;
      const said = err.join('\n');
      noStackTrace(said);
      const named = said.split('\n').some((line) => line.startsWith(`${file}: ${each.field}`) || line.startsWith(`${file}: ${each.field}.`));
      if (exit !== 2 || !named) missed.push(`${each.label} → exit ${exit}: ${said.split('\n')[0]}`);
    }
    expect(missed).toEqual([]);
  });

  it('hostile YAML exits 2 naming the file: deep nesting, a huge file, binary bytes, several documents, a list, an unknown tag, a long string', async () => {
    const dir = tempDir('fuzz-yaml');
    const hostile: Record<string, string | Buffer> = {
      'deep.yaml': `name: deep\nx: ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
      'huge.yaml': `name: huge\ndescription: "${'x'.repeat(2 * 1024 * 1024)}"\n`,
      'binary.yaml': Buffer.from([0x00, 0xff, 0xfe, 0x13, 0x37, 0x00, 0x0a, 0x80]),
      'documents.yaml': 'name: one\n---\nname: two\n',
      'list.yaml': '- name: a\n- name: b\n',
      'tagged.yaml': 'name: !!js/function "function () { return 1 }"\n',
      'long-name.yaml': `name: ${'a'.repeat(500_000)}\n`,
      'empty.yaml': '',
      'duplicate.yaml': 'name: a\nname: b\n',
    };
    for (const [name, content] of Object.entries(hostile)) {
      const file = join(dir, name);
      writeFileSync(file, content);
      const { code, err } = validate(file);
      expect(await code, name).toBe(2);
      const said = err.join('\n');
      noStackTrace(said);
      expect(said, name).toContain(file);
    }
  });
});
