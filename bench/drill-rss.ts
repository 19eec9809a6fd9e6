/**
 * One drill at one scale, seeded afresh, in a process of its own: its peak
 * resident memory is the harness's at that scale and nothing else's. Prints
 * one JSON line. Run by bench/run.ts (`tsx bench/drill-rss.ts <scale> <work folder>`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDrills } from '../src/drill/load.js';
import { DrillRun } from '../src/drill/run.js';
import { databaseLossDrill } from './drill-file.js';

const [scale, work] = process.argv.slice(2);
if (!scale || !work) throw new Error('usage: tsx bench/drill-rss.ts <scale> <work folder>');
process.env.RESTORE_DRILL_CACHE = 'off';
const file = join(work, `rss-${scale}.yaml`);
writeFileSync(file, databaseLossDrill(`rss-${scale}`, scale, 1));
const started = performance.now();
const journal = await new DrillRun(await loadDrills([file]), { reportsDir: join(work, 'reports'), keep: false, listeners: [] }).run();
console.log(
  JSON.stringify({
    scale,
    wallMs: Math.round(performance.now() - started),
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    verdict: journal.drills[0]?.verdict,
    rows: journal.drills[0]?.dataset?.rows,
  }),
);
