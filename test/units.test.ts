/** Pure logic and small helpers: durations, verdicts, loss counting, generators, process liveness, file hashes, tools on PATH. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { segmentOf } from '../src/backup/base-backup-folder.js';
import { describe, expect, it } from 'vitest';
import { combine } from '../src/model/verdict.js';
import { measureLoss } from '../src/checks/targets.js';
import { formatDuration, parseDuration } from '../src/support/units.js';
import { datasetStreams } from '../src/dataset/generators.js';
import { SCALES } from '../src/dataset/scale.js';
import { fitLine, project, projectionOf } from '../src/checks/projection.js';
import { isAlive } from '../src/support/processes.js';
import { waitWhile } from '../src/support/clock.js';
import { sha256File } from '../src/support/sha256.js';
import { onPath } from '../src/support/path-search.js';
import { sharesHostNetwork } from '../src/engines/docker/network.js';
import { execa } from 'execa';

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

describe('RTO projection', () => {
  const GiB = 1024 ** 3;
  const line = [
    { drill: 'a', sizeBytes: 1 * GiB, rtoMs: 10_000 },
    { drill: 'b', sizeBytes: 2 * GiB, rtoMs: 20_000 },
    { drill: 'c', sizeBytes: 4 * GiB, rtoMs: 40_000 },
  ];

  it('fits a line exactly through points on one, and projects along it', () => {
    const fit = fitLine(line);
    expect(fit.slope * GiB).toBeCloseTo(10_000, 6);
    expect(fit.intercept).toBeCloseTo(0, 3);
    expect(fit.r2).toBeCloseTo(1, 9);
    expect(project(line, fit, 10 * GiB).rtoMs).toBeCloseTo(100_000, 3);
  });

  it('two sizes give a line but no error, so the projection is never a pass', () => {
    const { check } = projectionOf(line.slice(0, 2), [], 3_600_000, 10 * GiB);
    expect(check!.verdict).toBe('unknown');
    expect(check!.summary).toMatch(/^PROJECTION, not a measurement: RTO at 10\.0 GiB .* measure a third size/);
  });

  it('passes only when the pessimistic end of the interval is within the target, fails when the projection is beyond it', () => {
    const noisy = [...line, { drill: 'd', sizeBytes: 3 * GiB, rtoMs: 31_000 }];
    const within = projectionOf(noisy, [], 3_600_000, 10 * GiB);
    expect(within.check!.verdict).toBe('pass');
    expect(within.record.halfWidthMs).toBeGreaterThan(0);
    // 100 GiB at ~10 s per GiB is about 1000 s: past a 10-minute target.
    expect(projectionOf(noisy, [], 600_000, 100 * GiB).check!.verdict).toBe('fail');
    // Near the target the interval straddles it: unknown, not pass.
    const near = projectionOf(noisy, [], 101_000, 10 * GiB);
    expect(near.check!.verdict).toBe('unknown');
    expect(near.check!.summary).toMatch(/the interval reaches past the target/);
  });

  it('a size without a measured RTO makes the projection unknown; without a production size the fit is kept and no check made', () => {
    expect(projectionOf(line.slice(1), ['a'], 3_600_000, 10 * GiB).check).toMatchObject({ verdict: 'unknown', summary: 'no projection: a measured no RTO' });
    const fitOnly = projectionOf(line, [], 3_600_000, undefined);
    expect(fitOnly.check).toBeUndefined();
    expect(fitOnly.record.fit!.slope * GiB).toBeCloseTo(10_000, 6);
  });
});

describe('the WAL segment an LSN ends in (as pg_walfile_name names it)', () => {
  const MiB16 = 16 * 1024 ** 2;
  it('is the segment holding the byte before the LSN, on its timeline', () => {
    expect(segmentOf('0/3000028', 1, MiB16)).toBe('000000010000000000000003');
    // Exactly at a segment boundary: the one before, whose last byte it follows.
    expect(segmentOf('0/3000000', 1, MiB16)).toBe('000000010000000000000002');
    expect(segmentOf('1/0000028', 2, MiB16)).toBe('000000020000000100000000');
    expect(segmentOf('0/8000028', 1, 64 * 1024 ** 2)).toBe('000000010000000000000002');
  });
});

describe('whether a process lives', () => {
  it('calls a zombie dead, as a killed daemon nobody reaps is', async () => {
    // sh starts a child, then becomes a sleep that never waits for it: the child ends a zombie.
    const parent = execa('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30']);
    try {
      const zombie = await new Promise<number>((resolve) => parent.stdout!.once('data', (chunk: Buffer) => resolve(Number(String(chunk).trim()))));
      for (let i = 0; i < 100 && !/\) Z/.test(readFileSync(`/proc/${zombie}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 20));
      expect(readFileSync(`/proc/${zombie}/stat`, 'utf8')).toMatch(/\) Z/);
      expect(isAlive(zombie)).toBe(false);
      expect(isAlive(parent.pid!)).toBe(true);
      expect(isAlive(process.pid)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
      await parent.catch(() => undefined);
    }
    expect(isAlive(parent.pid!)).toBe(false);
  });

  it('is waited out: true once it is gone, false when it outlives the wait', async () => {
    const sleeper = execa('sleep', ['30']);
    const ended = sleeper.catch(() => undefined);
    try {
      expect(await waitWhile(() => isAlive(sleeper.pid!), 200, 20)).toBe(false);
      setTimeout(() => sleeper.kill('SIGKILL'), 100);
      expect(await waitWhile(() => isAlive(sleeper.pid!), 10_000, 20)).toBe(true);
    } finally {
      sleeper.kill('SIGKILL');
      await ended;
    }
  });
});

describe('SHA-256 of a file', () => {
  it('equals sha256sum for an empty file, one smaller than a read, and one of several reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sha-'));
    try {
      for (const [name, bytes] of [['empty', 0], ['small', 1000], ['large', 2.5 * 2 ** 20 + 7]] as const) {
        const file = join(dir, name);
        writeFileSync(file, randomBytes(Math.floor(bytes)));
        expect(await sha256File(file), name).toBe((await execa('sha256sum', [file])).stdout.slice(0, 64));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a tool on PATH', () => {
  it('is found as an executable file, not by name alone: a file that cannot run, or a folder, is no tool', () => {
    const dir = mkdtempSync(join(tmpdir(), 'path-'));
    const path = process.env.PATH;
    try {
      writeFileSync(join(dir, 'rd-runs'), '#!/bin/sh\n', { mode: 0o755 });
      writeFileSync(join(dir, 'rd-cannot-run'), '#!/bin/sh\n', { mode: 0o644 });
      mkdirSync(join(dir, 'rd-folder'), { mode: 0o755 });
      process.env.PATH = `/no/such/folder${delimiter}${dir}`;
      expect(onPath('rd-runs')).toBe(true);
      expect(onPath('rd-cannot-run')).toBe(false);
      expect(onPath('rd-folder')).toBe(false);
      expect(onPath('rd-absent')).toBe(false);
      process.env.PATH = '';
      expect(onPath('rd-runs')).toBe(false);
    } finally {
      process.env.PATH = path;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the Docker engine's network", () => {
  const local = { Name: 'drill-box', OSType: 'linux', SecurityOptions: ['name=seccomp,profile=default'] };
  it("takes the host's network only from a Linux engine on this machine that is not rootless, and says why not", () => {
    expect(sharesHostNetwork(local, 'drill-box')).toBeUndefined();
    // The host's engine seen from inside a container, Docker Desktop's VM, or an engine on another machine.
    expect(sharesHostNetwork(local, 'harness-container')).toMatch(/host is "drill-box", not this machine \("harness-container"\)/);
    expect(sharesHostNetwork({ ...local, SecurityOptions: ['name=seccomp,profile=default', 'name=rootless'] }, 'drill-box')).toMatch(/rootless/);
    expect(sharesHostNetwork({ ...local, OSType: 'windows' }, 'drill-box')).toMatch(/runs windows, not Linux/);
    expect(sharesHostNetwork({}, 'drill-box')).toMatch(/unknown OS/);
  });
});
