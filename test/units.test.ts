/** Pure logic: durations, verdicts, loss counting, generators. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { combine } from '../src/model/verdict.js';
import { measureLoss } from '../src/checks/targets.js';
import { formatDuration, parseDuration } from '../src/support/units.js';
import { datasetStreams } from '../src/dataset/generators.js';
import { SCALES } from '../src/dataset/scale.js';

describe('durations', () => {
  it('parses the forms drill files use and rejects others', () => {
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('15 minutes')).toBeUndefined();
    expect(parseDuration(15)).toBeUndefined();
  });
  it('formats for people', () => {
    expect(formatDuration(950)).toBe('950ms');
    expect(formatDuration(12_340)).toBe('12.3s');
    expect(formatDuration(245_000)).toBe('4m 05s');
    expect(formatDuration(undefined)).toBe('n/a');
  });
});

describe('verdicts', () => {
  it('combine as fail > unknown > pass, and nothing is not a pass', () => {
    expect(combine(['pass', 'pass'])).toBe('pass');
    expect(combine(['pass', 'unknown'])).toBe('unknown');
    expect(combine(['unknown', 'fail', 'pass'])).toBe('fail');
    expect(combine([])).toBe('unknown');
  });
});

describe('data loss', () => {
  const at = (mono: number) => ({ mono, wall: new Date(mono).toISOString() });
  const commits = [1, 2, 3, 4, 5].map((seq) => ({ seq, keys: { orders: seq, trades: seq }, at: at(seq * 100) }));
  const ledger = (own: number[]) => ({ own, written: { orders: own, trades: own }, foreignRows: 0, foreignWriters: [] });
  it('counts acknowledged commits missing after recovery and the window of writes lost', () => {
    const loss = measureLoss(commits, ledger([1, 2, 3]), at(900));
    expect(loss).toMatchObject({ committedRows: 5, recoveredRows: 3, lostRows: 2, firstLostSeq: 4, lastRecoveredSeq: 3, lossMs: 500 });
  });
  it('is zero when everything came back, and counts rows nobody saw committed', () => {
    expect(measureLoss(commits, ledger([1, 2, 3, 4, 5, 6]), at(900))).toMatchObject({ lostRows: 0, lossMs: 0, unexpectedRows: 1 });
  });
});

describe('generators', () => {
  async function digest(seed: number): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const source of datasetStreams(seed, SCALES.tiny)) {
      const hash = createHash('sha256');
      let rows = 0;
      for await (const chunk of source.stream()) {
        hash.update(chunk);
        rows += chunk.split('\n').length - 1;
      }
      expect(rows).toBe(source.rows);
      out[source.table] = hash.digest('hex');
    }
    return out;
  }
  it('give the same rows for the same seed and different rows for another', async () => {
    const a = await digest(1);
    expect(await digest(1)).toEqual(a);
    const b = await digest(2);
    for (const table of Object.keys(a)) expect(b[table]).not.toBe(a[table]);
  });
});
