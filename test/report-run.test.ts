/**
 * What a real run leaves for the people and tools that read it, one drill
 * passing and one failing by design (recovery: none): the first screen of
 * report.md and of the CI job summary, the checklist, report.html in a real
 * browser with no network, report.md's Mermaid through the real mermaid
 * package, metrics.prom through promtool, JUnit, the console, and the drill
 * files in the signed bundle. CI sets RESTORE_DRILL_REQUIRE_REPORT_TOOLS=1,
 * so a missing browser or promtool fails there instead of skipping.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { consoleProgress } from '../src/cli/progress.js';
import { writeOutputs } from '../src/drill/outputs.js';
import { generateKeyPair, keyFingerprint, verifyEvidence } from '../src/evidence/bundle.js';
import type { DrillJournal, RunJournal } from '../src/model/journal.js';
import { checklist } from '../src/report/checklist.js';
import { chromium, chromiumMissing, countColour, readPng } from './browser.js';
import { drillYaml, runDrills, tempDir, writeDrill } from './helpers.js';

const REQUIRED = process.env.RESTORE_DRILL_REQUIRE_REPORT_TOOLS === '1';
const noBrowser = await chromiumMissing();
const noPromtool = (await execa('promtool', ['--version'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0 ? undefined : 'promtool is not installed (apt-get install prometheus)';

const work = tempDir('report-run');
const drillsDir = tempDir('report-run-drills');
const files = [
  writeDrill(drillsDir, drillYaml({ name: 'report-ok' })),
  // Nothing recovers the dropped table: the drill must fail, and say so first.
  writeDrill(drillsDir, drillYaml({ name: 'report-unrecovered', recovery: { procedure: 'none' } })),
];
const printed: string[] = [];
let journal: RunJournal;
let dir: string;
let manifestSha256: string;
let markdown: string;
let summary: string;
const key = join(work, 'evidence.key');
const pub = join(work, 'evidence.pub');

const read = (name: string) => readFileSync(join(dir, name), 'utf8');
const drill = (name: string) => journal.drills.find((d) => d.name === name)!;
const firstFailing = (d: DrillJournal) => d.checks.find((c) => c.verdict === 'fail')!.name;

beforeAll(async () => {
  await generateKeyPair(key, pub);
  ({ journal, dir } = await runDrills(files, join(work, 'reports'), { listeners: [consoleProgress((line) => printed.push(line))] }));
  const summaryFile = join(work, 'step-summary.md');
  writeFileSync(summaryFile, '# an earlier step\n');
  ({ manifestSha256 } = await writeOutputs(dir, journal, { history: join(work, 'reports', 'history.jsonl'), stepSummary: summaryFile, signingKey: key }));
  markdown = read('report.md');
  summary = readFileSync(summaryFile, 'utf8').replace('# an earlier step\n', '');
}, 120_000);

describe('the first screen of a run with a failing drill', () => {
  it('the run failed as designed: one drill passed, one failed a check', () => {
    expect(drill('report-ok').verdict).toBe('pass');
    expect(drill('report-unrecovered').verdict).toBe('fail');
  });

  for (const [what, text] of [
    ['report.md', () => markdown],
    ['the job summary', () => summary],
  ] as const) {
    it(`${what} names the failing drill and its first failing check in its first 15 lines`, () => {
      const first = text().split('\n').slice(0, 15).join('\n');
      const failing = drill('report-unrecovered');
      expect(first).toContain('report-unrecovered');
      expect(first).toMatch(new RegExp(`report-unrecovered(\\]\\(#report-unrecovered\\))?\\*\\* failed \`${firstFailing(failing)}\``));
      expect(first.split('\n')[0]).toBe('# ❌ FAIL: report-unrecovered failed (1 of 2 drills passed)');
    });

    it(`${what} has a summary table with no path in it`, () => {
      const lines = text().split('\n');
      const start = lines.findIndex((l) => l.startsWith('| Drill | Scenario |'));
      const rows = lines.slice(start).filter((l, i) => l.startsWith('|') && lines.slice(start, start + i + 1).every((x) => x.startsWith('|')));
      expect(rows).toHaveLength(4);
      for (const row of rows.map((r) => r.replace(/\]\(#[a-z0-9-]+\)/g, ']'))) expect(row).not.toMatch(/[\w.~-]\/|\/[\w.~]/);
    });
  }

  it('the job summary carries the manifest SHA-256 the report cannot, and no link to a heading it lacks', () => {
    expect(summary).toContain(`\`manifest.json\` SHA-256 \`${manifestSha256}\``);
    expect(createHash('sha256').update(readFileSync(join(dir, 'manifest.json'))).digest('hex')).toBe(manifestSha256);
    expect(summary).not.toContain('](#');
  });

  it('points at no temp folder that is gone: only the failed drill\'s kept folders are named', () => {
    const kept = journal.drills.flatMap((d) => d.keptFiles ?? []);
    expect(kept.length).toBeGreaterThan(0);
    for (const [name, text] of [['report.md', markdown], ['report.html', read('report.html')], ['junit.xml', read('junit.xml')], ['summary', summary]]) {
      const rest = kept.reduce((t, folder) => t.split(folder).join('<kept>'), text!);
      expect({ name, leftover: rest.match(new RegExp(`\\S*restore-drill-${journal.runId}-\\S*`, 'g')) }).toEqual({ name, leftover: null });
    }
  });
});

describe('the checklist of a real run', () => {
  it('ticks in report.md exactly the boxes whose checks passed, and nothing for the failing drill it did not show', () => {
    for (const d of journal.drills) {
      const section = markdown.slice(markdown.indexOf(`\n## ${d.name}\n`), markdown.indexOf('\n## ', markdown.indexOf(`\n## ${d.name}\n`) + 4));
      const ticked = [...section.matchAll(/^- \[x\] \*\*([^*]+)\*\*/gm)].map((m) => m[1]);
      const items = checklist(d);
      expect(ticked).toEqual(items.filter((i) => i.state === 'ticked').map((i) => i.item));
      for (const item of items.filter((i) => i.state === 'ticked')) {
        expect({ item: item.item, notPassed: d.checks.filter((c) => item.checks.includes(c.name) && c.verdict !== 'pass').map((c) => c.name) }).toEqual({ item: item.item, notPassed: [] });
      }
    }
    const failing = markdown.slice(markdown.indexOf('\n## report-unrecovered\n'));
    expect(failing).toMatch(/^- \[ \] \*\*Restore completed\*\* \(not ticked\): recovery procedure none: nothing was restored$/m);
    expect(failing).toMatch(/^- \[ \] \*\*Tables present\*\* \(not ticked\): schema failed: .*candles/m);
    expect(failing).toMatch(/^- \[ \] \*\*RTO within target\*\* \(not ticked\): rto failed: not recovered/m);
  });
});

describe('the evidence bundle', () => {
  it('holds each drill file as run, hashed in the journal and the manifest, and verifies with the key the report names', async () => {
    const manifest = JSON.parse(read('manifest.json')) as { files: Array<{ path: string; sha256: string }> };
    for (const [i, d] of journal.drills.entries()) {
      const sha256 = createHash('sha256').update(readFileSync(files[i]!)).digest('hex');
      expect(d.source).toEqual({ copy: `${d.name}/drill.yaml`, sizeBytes: readFileSync(files[i]!).length, sha256 });
      expect(manifest.files.find((f) => f.path === d.source!.copy)?.sha256).toBe(sha256);
      expect(markdown).toContain(`| ${d.name} | \`${d.file}\` | \`${d.name}/drill.yaml\` | \`${sha256}\` |`);
    }
    const fingerprint = await keyFingerprint(pub, 'public');
    expect(markdown).toContain(`key fingerprint \`${fingerprint}\``);
    expect(markdown).toContain(`restore-drill verify-evidence ${dir} --public-key <the signer's public key>`);
    expect(await verifyEvidence(dir, { publicKey: pub })).toMatchObject({ ok: true, signature: 'valid', keyFingerprint: fingerprint });
    expect(manifest.files.map((f) => f.path)).toContain('report.html');
  });
});

describe('JUnit and the console', () => {
  it('JUnit has exactly one failure for the failing drill, naming all its failed checks, with a short classname and its file', () => {
    const xml = read('junit.xml');
    const failing = drill('report-unrecovered');
    const testcase = new RegExp(`<testcase classname="restore-drill\\.report-unrecovered" name="report-unrecovered" file="${failing.file.replace(/[.]/g, '\\.')}"[^>]*>([\\s\\S]*?)</testcase>`).exec(xml);
    expect(testcase).not.toBeNull();
    expect(testcase![1]!.match(/<failure /g)).toHaveLength(1);
    const message = /<failure message="([^"]*)"/.exec(testcase![1]!)![1]!;
    for (const check of failing.checks.filter((c) => c.verdict === 'fail')) expect(message).toContain(`${check.name}: `);
    expect(xml.match(/<failure /g)).toHaveLength(1);
  });

  it('the console printed one line per phase (no start lines), and each check', () => {
    for (const d of journal.drills) {
      expect(printed.filter((l) => new RegExp(`^ {2}[✓✗] ${d.name}: `).test(l))).toHaveLength(d.phases.length);
      for (const c of d.checks) expect(printed.some((l) => l.startsWith(`    ${c.verdict.toUpperCase().padEnd(7)} ${c.name}: `))).toBe(true);
      expect(printed).toContainEqual(expect.stringMatching(new RegExp(`^■ ${d.name}: completed, verdict ${d.verdict!.toUpperCase()} in `)));
    }
    expect(printed.some((l) => l.includes('  … '))).toBe(false);
  });
});

describe('Report tools availability', () => {
  it.runIf(REQUIRED)('are required here (RESTORE_DRILL_REQUIRE_REPORT_TOOLS=1): chromium and promtool run', () => {
    expect({ noBrowser, noPromtool }).toEqual({ noBrowser: undefined, noPromtool: undefined });
  });
});

describe.skipIf(noPromtool !== undefined)(`metrics.prom${noPromtool ? ` (skipped: ${noPromtool})` : ''}`, () => {
  it('is accepted by promtool check metrics, with targets and a last success for every drill', async () => {
    const prom = read('metrics.prom');
    const result = await execa('promtool', ['check', 'metrics'], { input: prom, reject: false });
    expect({ exit: result.exitCode, said: `${result.stdout}${result.stderr}` }).toEqual({ exit: 0, said: '' });
    expect(prom).toMatch(/^drill_last_success_timestamp_seconds\{drill="report-unrecovered"\} 0$/m);
    expect(prom).toMatch(/^drill_last_success_timestamp_seconds\{drill="report-ok"\} \d+/m);
    expect(prom).toMatch(/^drill_rto_target_seconds\{drill="report-ok"\} 900$/m);
    expect(prom).toMatch(/^drill_rpo_target_seconds\{drill="report-ok"\} 86400$/m);
  });
});

describe.skipIf(noBrowser !== undefined)(`in a browser${noBrowser ? ` (skipped: ${noBrowser})` : ''}`, () => {
  it('report.html opens with no network and shows the verdict, the failing drill and every chart', async () => {
    const dom = await chromium(work, ['--dump-dom', pathToFileURL(join(dir, 'report.html')).href]);
    expect(dom).toContain('<h1 id="-fail-report-unrecovered-failed-1-of-2-drills-passed">❌ FAIL: report-unrecovered failed (1 of 2 drills passed)</h1>');
    expect(dom).toMatch(/<li>❌ <strong><a href="#report-unrecovered">report-unrecovered<\/a><\/strong> failed <code>schema<\/code>/);
    // Two share-of-target charts and one timeline per drill, as report.md has two Mermaid blocks and one per drill.
    expect(dom.match(/<svg class="chart"/g)).toHaveLength(markdown.match(/```mermaid/g)!.length);
    expect(dom.match(/<svg class="chart"/g)!.length).toBe(2 + journal.drills.length);
    expect(dom).not.toMatch(/<script/);
  });

  it('a screenshot shows the charts in their colours, in the light and in the dark theme', async () => {
    const shots: Record<string, ReturnType<typeof readPng>> = {};
    for (const theme of ['light', 'dark'] as const) {
      const png = join(work, `report-${theme}.png`);
      await chromium(work, [...(theme === 'dark' ? ['--force-dark-mode', '--blink-settings=preferredColorScheme=0'] : []), '--window-size=1000,1400', `--screenshot=${png}`, pathToFileURL(join(dir, 'report.html')).href]);
      shots[theme] = readPng(png);
    }
    const light = shots.light!;
    const dark = shots.dark!;
    expect([light.width, light.height]).toEqual([1000, 1400]);
    // White and GitHub-dark backgrounds; the blue of the measured bars and the red of the target lines and the failed verdict, in each theme's shade.
    expect(light.at(5, 5)).toEqual([255, 255, 255]);
    expect(dark.at(5, 5)).toEqual([13, 17, 23]);
    expect(countColour(light, '#2f81f7')).toBeGreaterThan(50);
    expect(countColour(light, '#cf222e')).toBeGreaterThan(50);
    expect(countColour(dark, '#4493f8')).toBeGreaterThan(50);
    expect(countColour(dark, '#f85149')).toBeGreaterThan(50);
  });

  it('every Mermaid chart in report.md renders with the real mermaid package, in the light and the dark theme, in our colours', async () => {
    const blocks = [...markdown.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
    const mermaid = createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js');
    const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    for (const theme of ['default', 'dark']) {
      const page = join(work, `mermaid-${theme}.html`);
      writeFileSync(
        page,
        `<!doctype html><body>${blocks.map((b) => `<pre class="mermaid">${escape(b)}</pre>`).join('\n')}
<script src="${pathToFileURL(mermaid).href}"></script>
<script>mermaid.initialize({ startOnLoad: false, theme: '${theme}' }); mermaid.run().then(() => document.body.dataset.done = 'yes', (e) => document.body.dataset.error = String(e));</script></body>`,
      );
      const dom = await chromium(work, ['--allow-file-access-from-files', '--virtual-time-budget=20000', '--dump-dom', pathToFileURL(page).href]);
      expect(dom).toContain('data-done="yes"');
      expect(dom).not.toMatch(/Syntax error|data-error/);
      expect(dom.match(/<svg[^>]*id="mermaid-/g)).toHaveLength(blocks.length);
      // The palette in each chart's front matter is honoured: measured bars blue, the target line red, whatever the theme.
      expect(dom).toContain('fill="#2f81f7"');
      expect(dom).toContain('stroke="#cf222e"');
    }
  });
});
