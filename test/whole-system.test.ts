/**
 * The whole system in one drill (the tradingbot runbook's complete system
 * recovery): the database, Redis, the configuration archive and the
 * encrypted secrets, struck together and restored in order, each with its own
 * RTO and loss and one RTO for the whole. And the ways it must fail: a wrong
 * secrets key, a part that lies about its restore.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgeSystem } from '../src/checks/parts.js';
import { loadDrills } from '../src/drill/load.js';
import { partModule } from '../src/parts/index.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { check, drillYaml, processesMentioning, runDrills, tempDir, tempFoldersOf, writeDrill } from './helpers.js';

const reports = tempDir('system-reports');
const drills = tempDir('system-drills');
const redisMissing = (await partModule('redis').available()) as { ok: boolean; why?: string };
if (!redisMissing.ok && process.env.RESTORE_DRILL_REQUIRE_REDIS === '1') throw new Error(`RESTORE_DRILL_REQUIRE_REDIS=1 but ${redisMissing.why}`);
const withRedis = redisMissing.ok ? describe : describe.skip;
if (!redisMissing.ok) console.warn(`Redis tests skipped: ${redisMissing.why}`);

const database = { fault: { type: 'drop-database' }, recovery: { procedure: 'restore-database' } };

async function runOne(overrides: Record<string, unknown>) {
  const file = writeDrill(drills, drillYaml({ ...database, ...overrides }));
  const { journal, dir } = await runDrills([file], reports);
  return { journal, dir, drill: journal.drills[0]! };
}

/** Every file under a folder, recursively, as text: where a secret could have been written. */
function everyFile(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'latin1'));
}

describe("the whole system's RPO", () => {
  // A database restored from another run's backup, or replayed past its target, lost 0 s as a window: that is no pass.
  it("fails, never passes, when the database's window is not a loss of this drill's data", () => {
    const files = { name: 'config', kind: 'config-files', backups: [], rtoMs: 2_000 };
    const judge = (rpo: Record<string, number>) =>
      judgeSystem({ rto: { targetMs: 60_000, measuredMs: 1_000 }, rpo: { targetMs: 60_000, measuredMs: 0, ...rpo }, checks: [] }, [files], { rto: 60_000, rpo: 60_000 }).find((c) => c.name === 'system: rpo')!;
    expect(judge({}).verdict).toBe('pass');
    expect(judge({ foreignRows: 12 })).toMatchObject({ verdict: 'fail', summary: expect.stringContaining("12 ledger rows of another run or drill came back to the database") });
    expect(judge({ pastTargetRows: 3 })).toMatchObject({ verdict: 'fail', summary: expect.stringContaining('replay went past its recovery target') });
  });
});

withRedis('the whole system: database, Redis, configuration, secrets', () => {
  it('passes the shipped whole-system drill: every part back and equal, one RTO per part and for the whole, the order kept', async () => {
    const { journal } = await runDrills(['drills/whole-system.yaml'], reports);
    const drill = journal.drills[0]!;
    expect(drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(drill.verdict).toBe('pass');
    expect(drill.parts!.map((p) => p.name)).toEqual(['redis', 'config', 'secrets']);
    // Each part after the one before it: the whole system's RTO is the last part's.
    const rtos = [drill.rto!.measuredMs!, ...drill.parts!.map((p) => p.rtoMs!)];
    expect([...rtos].sort((a, b) => a - b)).toEqual(rtos);
    expect(check(drill, 'system: rto').summary).toContain('whole system back and verified');
    expect(check(drill, 'system: rto').evidence.parts).toHaveLength(4);
    // Redis lost what came after its snapshot, counted write by write; the file sets have no writes to lose.
    const redis = drill.parts!.find((p) => p.kind === 'redis')!;
    expect(redis.writes).toMatchObject({ lost: expect.any(Number) });
    expect((redis.writes as { afterBackup: number }).afterBackup).toBeGreaterThan(0);
    expect(drill.checks.map((c) => c.name)).not.toContain('config: rpo');
    const markdown = renderMarkdown(journal);
    expect(markdown).toContain('### The whole system, in the order restored');
    expect(markdown).toMatch(/\| redis \| redis \| `[^`]+\.rdb` \| lose-instance \|/);
    expect(markdown).toContain('- [x] **Redis, configuration and secrets restored**');
    expect(processesMentioning(journal.runId)).toEqual([]);
    expect(processesMentioning('redis-server')).toEqual([]);
    expect(tempFoldersOf(journal.runId)).toEqual([]);
  }, 300_000);

  it('a truncated AOF is repaired with redis-check-aof --fix, and what the repair cut is reported and counted as loss', async () => {
    const { journal } = await runDrills(['drills/redis-aof-repair.yaml'], reports);
    const drill = journal.drills[0]!;
    const redis = drill.parts![0]!;
    expect(redis.recovery).toMatchObject({ ok: true, repair: { tool: expect.stringContaining('redis-check-aof') } });
    expect(check(drill, 'redis: recovery').summary).toContain('repaired it');
    const writes = redis.writes as { lost: number; acknowledged: number; lossMs: number };
    expect(writes.acknowledged).toBeGreaterThan(0);
    expect(check(drill, 'redis: rpo').summary).toMatch(/\d+ of \d+ acknowledged writes lost/);
    expect(drill.verdict).toBe('pass');
  }, 300_000);

  it('a corrupted RDB snapshot is caught before it is trusted, and the previous generation restores', async () => {
    const { drill } = await runOne({ name: 'redis-corrupt-rdb', parts: [{ kind: 'redis', name: 'cache', persistence: 'rdb', generations: 2, fault: { type: 'corrupt-rdb' } }] });
    const cache = drill.parts![0]!;
    expect(cache.recovery!.integrity.some((s) => !s.ok)).toBe(true);
    expect(cache.recovery!.usedBackup).toBe(cache.backups[0]!.path);
    expect(check(drill, 'cache: recovery')).toMatchObject({ verdict: 'pass', summary: expect.stringContaining('caught damage') });
    expect(check(drill, 'cache: content').verdict).toBe('pass');
    // The older snapshot lost more than the newest would have: measured, not assumed.
    expect((cache.writes as { afterBackup: number }).afterBackup).toBeGreaterThan(0);
  }, 300_000);

  it('one corrupted RDB and no other generation: the part fails, naming the check, and so does the whole system', async () => {
    const { drill } = await runOne({ name: 'redis-corrupt-only', parts: [{ kind: 'redis', name: 'cache', persistence: 'rdb', fault: { type: 'corrupt-rdb' } }] });
    expect(check(drill, 'cache: recovery').verdict).toBe('fail');
    expect(check(drill, 'cache: rto')).toMatchObject({ verdict: 'fail', summary: expect.stringContaining('not recovered') });
    expect(check(drill, 'system: rto')).toMatchObject({ verdict: 'fail', summary: expect.stringContaining('cache not recovered') });
    expect(drill.verdict).toBe('fail');
  }, 300_000);

  it('secrets restored with the wrong key fail clearly, leave no plaintext, and no secret reaches any output', async () => {
    const { journal, dir } = await runDrills(['drills/negative/secrets-wrong-key.yaml'], reports);
    const drill = journal.drills[0]!;
    expect(check(drill, 'secrets: recovery')).toMatchObject({ verdict: 'fail', summary: expect.stringMatching(/bad decrypt|openssl/) });
    expect(check(drill, 'system: rto').verdict).toBe('fail');
    expect(drill.verdict).toBe('fail');
    const markdown = renderMarkdown(journal);
    expect(markdown).toContain('secrets: recovery');
    // The secrets are made from the seed; a seeded part started again gives the same values to look for.
    const probe = tempDir('secrets-probe');
    const secrets = await partModule('secrets').start({ workDir: probe, logDir: probe, seed: 3, runId: 'probe', engine: 'native', commands: {} }, { kind: 'secrets', name: 'secrets', fault: { type: 'wrong-key' } } as never);
    await secrets.seed();
    // Each value on its own (an .env line's value, a PEM line), not only whole files: one leaked key is a leak.
    const values = everyFile(probe).flatMap((text) => text.split(/[\n=]/).map((t) => t.trim()).filter((t) => t.length >= 16 && !t.startsWith('-----')));
    await secrets.dispose(false);
    expect(values.length).toBeGreaterThan(0);
    // A failed drill keeps its folders for inspection: the part's keeps its encrypted backup, never the plaintext or the key.
    const keptPart = drill.keptFiles!.find((path) => path.includes('secrets-wrong-key-secrets-'))!;
    expect(keptPart).toBeDefined();
    for (const folder of [dir, keptPart]) for (const text of everyFile(folder)) for (const value of values) expect(text.includes(value)).toBe(false);
    expect(existsSync(probe) ? everyFile(probe) : []).toEqual([]);
  }, 300_000);

  // With the right key and an intact archive the secrets pass: the shipped whole-system drill above.
  it('a damaged secrets archive fails the drill clearly, naming the check that caught it', async () => {
    const { drill } = await runOne({ name: 'secrets-damaged', parts: [{ kind: 'secrets', fault: { type: 'damage-archive' } }] });
    expect(check(drill, 'secrets: recovery')).toMatchObject({ verdict: 'fail', summary: expect.stringContaining('sha256') });
    expect(check(drill, 'secrets: content').verdict).toBe('fail');
    expect(drill.verdict).toBe('fail');
  }, 300_000);

  it("a part's source folder is the drill file's, and one that is not a folder is named before anything runs", async () => {
    mkdirSync(join(drills, 'team-config'), { recursive: true });
    const ok = writeDrill(drills, drillYaml({ ...database, name: 'own-config', parts: [{ kind: 'config-files', source: 'team-config', fault: { type: 'lose-files' } }] }));
    const [loaded] = await loadDrills([ok]);
    expect(loaded!.spec.parts[0]).toMatchObject({ source: join(drills, 'team-config') });
    const missing = writeDrill(drills, drillYaml({ ...database, name: 'no-config', parts: [{ kind: 'config-files', source: 'nowhere', fault: { type: 'lose-files' } }] }));
    await expect(loadDrills([missing])).rejects.toThrow(/no-config\.yaml: parts\[0\]\.source: nowhere \(.*\) is not a folder/);
  });

  it('a drill file names a wrong pair clearly before anything runs', async () => {
    const file = writeDrill(drills, drillYaml({ ...database, name: 'bad-part', parts: [{ kind: 'redis', persistence: 'rdb', fault: { type: 'truncate-aof' } }] }));
    await expect(runDrills([file], reports)).rejects.toThrow(/bad-part\.yaml.*parts\.0/s);
  });
});
