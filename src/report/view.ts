/**
 * What the report says, worked out once from the journal, as Markdown-ready
 * text: report.md, the CI job summary and report.html are all rendered from
 * this, so they cannot tell different stories. The order is the reader's:
 * the verdict and what failed, a narrow summary, then each drill, then the
 * evidence.
 */
import type { DrillJournal, PhaseJournal, RunJournal } from '../model/journal.js';
import type { IntegrityReport } from '../model/observations.js';
import { passed, runVerdict } from '../model/outcome.js';
import type { CheckResult, Verdict } from '../model/verdict.js';
import { formatBytes, formatDuration } from '../support/units.js';
import { checklist, type ChecklistItem } from './checklist.js';
import { shareOfTarget, timeline, trend } from './charts.js';
import { ganttMermaid, shareMermaid, trendMermaid } from './charts-mermaid.js';
import { shareSvg, timelineSvg, trendSvg } from './charts-svg.js';
import { notPassed, type NotPassed } from './failures.js';
import { mdCode, mdText, oneLine, shortDuration, targetLabel, utc, withoutTempFolders } from './text.js';

/** What the report knows beside the journal: facts of the evidence bundle it will be part of. */
export interface ReportContext {
  /** The fingerprint of the key the manifest will be signed with; absent when unsigned. */
  signingKeyFingerprint?: string;
  /** The manifest's SHA-256: known only once it is written, so only views written after it (the CI job summary) carry it. */
  manifestSha256?: string;
  /** The run folder as the user named it, for the verify command. */
  runDir?: string;
}

/** A chart drawn twice: Mermaid for report.md, SVG for report.html. */
export interface Chart {
  mermaid: string;
  svg: string;
}

const BADGE: Record<Verdict, string> = { pass: '✅ PASS', fail: '❌ FAIL', unknown: '❔ UNKNOWN' };
const MARK: Record<Verdict, string> = { pass: '✅', fail: '❌', unknown: '❔' };

function verdictOf(drill: DrillJournal): Verdict {
  return drill.verdict ?? 'unknown';
}

/** "missing-wal failed" / "a, b and 3 more did not pass": the headline names the drills. */
function names(list: readonly NotPassed[]): string {
  const shown = list.slice(0, 4).map((n) => n.drill);
  const more = list.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}` : (shown[0] ?? '');
}

function headline(run: RunJournal, verdict: Verdict, failures: NotPassed[]): string {
  const count = `${run.drills.filter(passed).length} of ${run.drills.length} drills passed`;
  if (verdict === 'pass') return `${BADGE.pass}: all ${run.drills.length} drills passed`;
  if (run.drills.length === 0) return `${BADGE[verdict]}: no drill ran`;
  const failed = failures.filter((f) => f.verdict === 'fail');
  const lead = failed.length ? `${names(failed)} failed` : `${names(failures)} did not finish`;
  return `${BADGE[verdict]}: ${lead} (${count})`;
}

/** One line per drill that did not pass: its failing checks and why, in words. */
function failureLine(f: NotPassed, tidy: (text: string) => string, link: boolean): string {
  const name = link ? `[${f.drill}](#${f.drill})` : f.drill;
  const checks = f.checks.length ? ` ${f.checks.map((c) => `\`${c}\``).join(', ')}` : '';
  return `${MARK[f.verdict]} **${name}** ${f.outcome}${checks}: ${mdText(tidy(f.reason))}`;
}

/** "✅ 4.9 s / 1 h": measured against target, with its own mark. */
function measureCell(measuredMs: number | undefined, targetMs: number | undefined, check: CheckResult | undefined, total = false): string {
  if (targetMs === undefined) return 'not measured';
  const measured = total ? 'all lost' : measuredMs === undefined ? 'not measured' : shortDuration(measuredMs);
  const mark = check ? MARK[check.verdict] : '❔';
  return `${mark} ${measured} / ${targetLabel(targetMs)}`;
}

/** "drop-table → restore-table": what was broken and how it was mended, by kind, never by path or SQL. */
function scenario(drill: DrillJournal): string {
  const fault = drill.fault?.type;
  const procedure = drill.recovery?.procedure;
  return fault || procedure ? `${fault ?? '?'} → ${procedure ?? '?'}` : 'n/a';
}

function check(drill: DrillJournal, name: string): CheckResult | undefined {
  return drill.checks.find((c) => c.name === name);
}

/** The backup the recovery restored, which is not always the newest taken: a damaged one is passed over. */
function restoredPath(drill: DrillJournal): string | undefined {
  const recovery = drill.recovery as { backup?: unknown } | undefined;
  if (typeof recovery?.backup === 'string') return recovery.backup;
  const used = check(drill, 'backup-integrity')?.evidence.used;
  if (typeof used === 'string') return used;
  return drill.recovery && !('error' in drill.recovery) && drill.recovery.procedure !== 'none' ? drill.backup?.path : undefined;
}

function short(sha256: string): string {
  return `${sha256.slice(0, 16)}…`;
}

function backupFacts(drill: DrillJournal, tidy: (text: string) => string): string[] {
  const backup = drill.backup;
  if (!backup) return [];
  const lines: string[] = [];
  const restored = restoredPath(drill);
  const kind = `${backup.method}, ${backup.format}`;
  const what = (path: string) => {
    if (path === backup.path) {
      // A folder's "SHA-256" is that of the listing naming its files: each file is named with its own.
      const files = backup.files.length > 1 ? `; ${backup.files.map((f) => `${mdText(f.name)} ${formatBytes(f.sizeBytes)} SHA-256 ${mdCode(short(f.sha256))}`).join(', ')}` : backup.sha256 ? `, SHA-256 ${mdCode(short(backup.sha256))}` : '';
      return `${mdCode(tidy(path))} (${kind}, ${formatBytes(backup.sizeBytes)}${files})`;
    }
    const listed = drill.backups?.find((b) => b.path === path);
    return `${mdCode(tidy(path))} (${kind}${listed ? `, ${formatBytes(listed.sizeBytes)}, SHA-256 ${mdCode(short(listed.sha256))}` : ''})`;
  };
  // The tool is recorded as "<binary>: <its --version>"; the binary's folder is in the Environment section.
  const tool = mdText(backup.tool.replace(/^\S*: /, ''));
  if (restored) lines.push(`**Backup restored:** ${what(restored)}, made by ${tool}`);
  else lines.push(`**Backup taken:** ${what(backup.path)}, made by ${tool}; no recovery restored it`);
  const integrity = check(drill, 'backup-integrity');
  const reports = (integrity?.evidence.reports ?? []) as IntegrityReport[];
  const rejected = reports.filter((r) => !r.ok);
  if (rejected.length) {
    const why = (r: IntegrityReport) => `${mdCode(tidy(r.path))}: caught by ${mdText(r.caughtBy ?? 'its checks')} (${mdText(tidy(oneLine(r.steps.at(-1)?.detail ?? '', 200)))})`;
    lines.push(`**Backups rejected:** ${rejected.map(why).join('; ')}`);
  }
  if (integrity?.verdict === 'unknown') lines.push(`**Backup not checked:** ${mdText(tidy(integrity.summary))}`);
  if (backup.wal) lines.push(`**WAL needed:** ${backup.wal.startLsn} – ${backup.wal.endLsn}${backup.wal.endSegment ? ` (ends in segment ${backup.wal.endSegment})` : ''}`);
  return lines;
}

function facts(drill: DrillJournal, tidy: (text: string) => string): string[] {
  const lines: string[] = [];
  const r = drill.recovery as (Record<string, unknown> & { procedure: string }) | undefined;
  if (drill.dataset) {
    const rows = Object.values(drill.dataset.rows).reduce((sum, n) => sum + n, 0);
    lines.push(`**Dataset:** scale ${mdText(drill.dataset.scale)}, seed ${drill.dataset.seed}, ${rows.toLocaleString('en-US')} rows in ${Object.keys(drill.dataset.rows).length} tables, ${mdText(drill.dataset.layout)}`);
  }
  if (drill.dataset?.timescaledb) lines.push(`**TimescaleDB:** ${mdText(drill.dataset.timescaledb)} at the source${drill.backup?.timescaledb ? `, ${mdText(drill.backup.timescaledb)} in the backup` : ''}`);
  lines.push(...backupFacts(drill, tidy));
  if (drill.fault) lines.push(`**Fault** at ${utc(drill.fault.at, { millis: true })}: ${mdText(tidy(drill.fault.summary))}`);
  const target = (drill.fault as { target?: { time: string; lsn: string; xid: string; name: string } } | undefined)?.target;
  if (target) lines.push(`**Recovery point recorded before the fault:** time ${mdCode(target.time)}, LSN ${mdCode(target.lsn)}, xid ${target.xid}, restore point ${mdCode(target.name)}`);
  if (r) {
    lines.push('error' in r ? `**Recovery failed** (${mdText(r.procedure)}): ${mdText(tidy(String(r.error)))}` : `**Recovery** (${mdText(r.procedure)}): ${mdText(tidy(String(r.summary)))}`);
    const gaps = r.archiveGaps as string[] | undefined;
    if (gaps?.length) lines.push(`**WAL archive gap:** ${gaps.map(mdCode).join(', ')} missing: replay could not pass it`);
  }
  const rpo = drill.rpo;
  if (rpo?.committedRows) {
    const after = rpo.afterTargetRows === undefined ? '' : `; ${rpo.afterTargetRows} rows written after the recovery target, ${rpo.pastTargetRows} of them wrongly back`;
    lines.push(`**Data loss:** ${rpo.total ? `all ${rpo.committedRows} committed ledger rows` : `${rpo.lostRows} of ${rpo.committedRows} committed ledger rows`} lost (${shortDuration(rpo.total ? Infinity : rpo.measuredMs)} of writes)${after}`);
  }
  if (drill.concurrency) lines.push(`**Timed beside other drills:** up to ${drill.concurrency} drills ran at once while this one did (--jobs), so its RTO and durations are not those of a drill alone`);
  for (const warning of drill.warnings ?? []) lines.push(`⚠️ **Warning:** ${mdText(tidy(warning))}`);
  if (drill.error) lines.push(`**Stopped:** ${mdText(tidy(drill.error))}`);
  if (drill.keptFiles?.length) lines.push(`**Files kept for inspection** (remove with \`restore-drill clean\`): ${drill.keptFiles.map(mdCode).join(', ')}`);
  return lines;
}

/**
 * The last drill of a file run at several sizes: each size's measured RTO
 * beside the fitted line's, the line and its error, and the projection,
 * labelled as one, with its method.
 */
function sizing(drill: DrillJournal) {
  const p = drill.projection;
  if (!p) return undefined;
  const fit = p.fit;
  const rows = p.points.map((point) => ({
    drill: mdText(point.drill),
    size: formatBytes(point.sizeBytes),
    measured: formatDuration(point.rtoMs),
    fitted: fit ? formatDuration(fit.intercept + fit.slope * point.sizeBytes) : 'n/a',
  }));
  const lines: string[] = [];
  if (fit) {
    const error = fit.r2 === undefined ? 'two sizes: the line fits them exactly, so it has no error estimate' : `R² ${fit.r2.toFixed(3)}, residual standard error ${formatDuration(fit.residualMs ?? 0)}`;
    lines.push(`**Fitted line:** RTO ≈ ${formatDuration(fit.intercept)} + ${formatDuration(fit.slope * 1024 ** 3)} per GiB (${error})`);
  } else {
    lines.push('**No line fitted:** the sizes measured do not differ, or one measured no RTO');
  }
  const check = drill.checks.find((c) => c.name === 'rto-projection');
  if (check) lines.push(`${MARK[check.verdict]} ${mdText(check.summary)}`);
  lines.push(`**Method:** ${mdText(p.method)}`);
  return { rows, lines };
}

function measures(drill: DrillJournal) {
  const row = (metric: 'RTO' | 'RPO', m: { targetMs: number; measuredMs?: number } | undefined, result: CheckResult | undefined, total = false) => {
    const share = m?.measuredMs === undefined ? 'n/a' : total || (m.targetMs === 0 && m.measuredMs > 0) ? 'over' : m.targetMs === 0 ? '0 %' : `${Number(((m.measuredMs / m.targetMs) * 100).toPrecision(2))} %`;
    return {
      metric,
      mark: result ? MARK[result.verdict] : '❔',
      measured: total ? 'unbounded (nothing came back)' : shortDuration(m?.measuredMs),
      target: targetLabel(m?.targetMs),
      share,
    };
  };
  return [row('RTO', drill.rto, check(drill, 'rto')), row('RPO', drill.rpo, check(drill, 'rpo'), drill.rpo?.total)];
}

/** The check evidence a person reads: per-table comparisons as tables, problem lists, and short key: value lines; the rest is in journal.json. */
function evidence(c: CheckResult, tidy: (text: string) => string): string[] {
  const e = c.evidence;
  const tables = e.tables as Record<string, { expected?: unknown; found?: unknown; written?: number; lost?: number }> | undefined;
  const lines: string[] = [];
  if (tables && Object.values(tables).every((t) => 'expected' in t)) {
    // Tables that match say nothing the summary does not: only the ones that differ are shown.
    const differ = Object.entries(tables).filter(([, t]) => t.expected !== t.found);
    if (!differ.length) return [`- all ${Object.keys(tables).length} tables match (each value is in journal.json)`];
    lines.push('| Table | Expected | Found |', '| --- | --- | --- |');
    for (const [table, t] of differ) lines.push(`| ${mdText(table)} | ${mdCode(String(t.expected))} | ${mdCode(String(t.found))} |`);
    return lines;
  }
  if (c.name === 'backup-integrity' && Array.isArray(e.reports)) {
    for (const r of e.reports as IntegrityReport[]) {
      lines.push(`- ${mdCode(tidy(r.path))}: ${r.steps.map((s) => `${s.ok ? '✅' : '❌'} ${mdText(s.check)} (${mdText(tidy(oneLine(s.detail, 160)))})`).join(' → ')}`);
    }
    return lines;
  }
  for (const [key, value] of Object.entries(e)) {
    // The whole schema as read lives in journal.json; the report names only what differs.
    if (value === undefined || (c.name === 'schema' && (key === 'expected' || key === 'found'))) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    const shown = typeof value === 'string' ? value : JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(1)) : v));
    lines.push(`- ${mdText(key)}: ${mdText(tidy(oneLine(shown, 300)))}`);
  }
  return lines;
}

function commandsByPhase(phases: PhaseJournal[], tidy: (text: string) => string) {
  return phases
    .filter((p) => p.commands.length)
    .map((p) => ({
      phase: p.name,
      commands: p.commands.map((c) => {
        const failed = c.exitCode !== 0 || c.timedOut;
        const tail = failed && c.stderrTail.trim() ? `: ${mdText(tidy(oneLine(c.stderrTail.trim().split('\n').at(-1) ?? '', 200)))}` : '';
        // The binary's folder is the engine's, named once in the Environment section.
        const command = c.command.replace(/^\S*\/(?=[\w.-]+ )/, '');
        return `${mdCode(tidy(oneLine(command, 300)))} → ${failed ? '**' : ''}exit ${c.exitCode ?? c.signal ?? 'none'}${c.timedOut ? ' (timed out)' : ''}${failed ? '**' : ''} in ${shortDuration(c.durationMs)}${tail}`;
      }),
    }));
}

function allSucceeded(drill: DrillJournal): boolean {
  return drill.phases.every((p) => p.commands.every((c) => c.exitCode === 0 && !c.timedOut));
}

function engineLine(drill: DrillJournal): string | undefined {
  const e = drill.engine;
  if (!e) return undefined;
  const network = e.network ? `, ${e.network} network` : '';
  const where = e.image ? `docker image ${mdCode(e.image)} (tools from the ${e.toolSource ?? 'container'}${network})` : `native binaries ${mdCode(e.binaries ?? 'n/a')}`;
  return `${where}, PostgreSQL ${mdText(e.server ?? 'n/a')}, TimescaleDB ${mdText(e.timescaledb ?? 'none')}`;
}

/**
 * The whole system, part by part in the order restored (the database first):
 * what each was backed up to, what struck it, how long its own restore took,
 * when it was back (RTO from the fault), and what it lost.
 */
function system(drill: DrillJournal, tidy: (text: string) => string) {
  if (!drill.parts?.length) return undefined;
  const verdictOf = (name: string) => MARK[drill.checks.find((c) => c.name === name)?.verdict ?? 'unknown'];
  const recovery = drill.phases.find((p) => p.name === 'recovery');
  // The backup restored, as its integrity check or the part names it: not the newest taken, which may have been passed
  // over as damaged, nor any backup at all after a restart or a failover.
  const used = (path: unknown) => (typeof path === 'string' ? mdCode(tidy(path)) : 'none restored');
  const lost = (part: NonNullable<DrillJournal['parts']>[number]) =>
    !part.writes ? 'no writes (compared whole with its backup)' : 'unread' in part.writes ? 'unknown' : `${part.writes.lost} of ${part.writes.acknowledged} writes (${shortDuration(part.writes.lossMs)})`;
  return [
    {
      part: 'database',
      kind: 'postgresql',
      backup: used(drill.checks.find((c) => c.name === 'backup-integrity')?.evidence.used),
      fault: drill.fault ? mdText(drill.fault.type) : 'none',
      own: shortDuration(recovery?.durationMs),
      rto: `${verdictOf('rto')} ${shortDuration(drill.rto?.measuredMs)}`,
      lost: drill.rpo?.lostRows === undefined ? 'unknown' : `${drill.rpo.lostRows} of ${drill.rpo.committedRows} commits (${shortDuration(drill.rpo.measuredMs)})`,
    },
    ...drill.parts.map((part) => ({
      part: mdText(part.name),
      kind: mdText(part.kind),
      backup: used(part.recovery?.usedBackup),
      fault: part.fault ? mdText(part.fault.type) : 'none',
      own: shortDuration(part.durationMs),
      rto: `${verdictOf(`${part.name}: rto`)} ${shortDuration(part.rtoMs)}`,
      lost: lost(part),
    })),
  ];
}

/** The boxes that do not apply, grouped by why: several share one reason (no other part of the system). */
function notApplicable(items: readonly ChecklistItem[]): string {
  const byWhy = new Map<string, string[]>();
  for (const i of items.filter((i) => i.state === 'not-applicable')) byWhy.set(i.why, [...(byWhy.get(i.why) ?? []), i.item]);
  return [...byWhy].map(([why, names]) => `${names.join(', ')} (${why})`).join('; ');
}

function drillView(run: RunJournal, drill: DrillJournal, tidy: (text: string) => string, tidyCommand: (text: string) => string) {
  const verdict = verdictOf(drill);
  const items = checklist(drill);
  const t = timeline(drill);
  const trends = (['RTO', 'RPO'] as const).flatMap((metric) => {
    const found = trend(run, drill, metric);
    return found ? [{ mermaid: trendMermaid(found), svg: trendSvg(found) }] : [];
  });
  const recent = run.recentRuns?.[drill.name] ?? [];
  return {
    name: drill.name,
    statusLine: `${BADGE[verdict]} · ${drill.status} · took ${shortDuration(drill.durationMs)} · started ${utc(drill.startedAt)}`,
    description: drill.description ? mdText(drill.description) : undefined,
    file: mdCode(drill.file),
    source: drill.source ? `copy in this bundle ${mdCode(drill.source.copy)}, SHA-256 ${mdCode(drill.source.sha256)}` : undefined,
    measures: measures(drill),
    facts: facts(drill, tidy),
    sizing: sizing(drill),
    system: system(drill, tidy),
    wentWrong: [
      ...drill.phases.filter((p) => p.status === 'failed' && p.error).map((p) => `phase ${p.name} failed: ${mdText(tidy(oneLine(p.error!, 400)))}`),
      ...drill.checks.filter((c) => c.verdict !== 'pass').map((c) => `${MARK[c.verdict]} \`${c.name}\` ${c.verdict === 'fail' ? 'failed' : 'could not decide'}: ${mdText(tidy(c.summary))}`),
    ],
    checklist: items
      .filter((i) => i.state !== 'not-applicable')
      .map((i) => `- [${i.state === 'ticked' ? 'x' : ' '}] **${i.item}**${i.state === 'ticked' ? '' : ' (not ticked)'}: ${mdText(tidy(oneLine(i.why, 300)))}`),
    notApplicable: notApplicable(items),
    checks: drill.checks.map((c) => ({ badge: BADGE[c.verdict], name: c.name, summary: mdText(tidy(c.summary)) })),
    // A drill stopped before its first phase has no timeline to draw (an empty gantt is a Mermaid error).
    timeline: t.phases.length ? ({ mermaid: ganttMermaid(t), svg: timelineSvg(t) } satisfies Chart) : undefined,
    phases: drill.phases.map((p) => `${p.name} ${p.status === 'ok' ? '' : `**${p.status}** `}${shortDuration(p.durationMs)}`).join(' · '),
    trends,
    /** Each run's verdict in one line; the charts above it carry RTO and RPO. */
    recent: recent.length < 2 ? undefined : recent.map((r) => `${utc(r.startedAt).slice(5, 16)} ${MARK[(r.verdict as Verdict | undefined) ?? 'unknown'] ?? mdText(r.verdict)}`).join(' · '),
    engine: engineLine(drill),
    commandCount: drill.phases.reduce((sum, p) => sum + p.commands.length, 0),
    // Every command is in journal.json; the report lists them where something went wrong, so a passing drill's report stays short.
    commands: passed(drill) && allSucceeded(drill) ? [] : commandsByPhase(drill.phases, tidyCommand),
    // A passing check's summary says it all (its evidence is in journal.json); what did not pass, and which backups were tried, is shown.
    evidence: drill.checks
      .filter((c) => c.verdict !== 'pass' || c.name === 'backup-integrity')
      .map((c) => ({ name: c.name, lines: evidence(c, tidy) }))
      .filter((e) => e.lines.length),
  };
}

/** Each distinct engine once, with its tools: the same block for every drill says nothing new. */
function environment(run: RunJournal) {
  const seen = new Map<string, { engine: string; tools: string[]; drills: string[] }>();
  for (const drill of run.drills) {
    const line = engineLine(drill);
    if (!line) continue;
    const tools = Object.entries(drill.engine?.tools ?? {}).map(([tool, version]) => `${mdCode(tool)}: ${mdText(version)}`);
    const key = `${line}\n${tools.join('\n')}`;
    const entry = seen.get(key) ?? { engine: line, tools, drills: [] };
    entry.drills.push(drill.name);
    seen.set(key, entry);
  }
  return [...seen.values()];
}

function evidenceSection(run: RunJournal, context: ReportContext) {
  const dir = context.runDir ?? `reports/${run.runId}`;
  return {
    signed: context.signingKeyFingerprint
      ? `signed with Ed25519 (${mdCode('manifest.sig')}), key fingerprint ${mdCode(context.signingKeyFingerprint)}`
      : `not signed (run with ${mdCode('--sign-key KEY')} to sign it)`,
    verify: context.signingKeyFingerprint ? `restore-drill verify-evidence ${dir} --public-key <the signer's public key>` : `restore-drill verify-evidence ${dir}`,
    manifest: context.manifestSha256 ? mdCode(context.manifestSha256) : undefined,
    files: run.drills.map((d) => ({ name: d.name, file: mdCode(d.file), copy: d.source ? mdCode(d.source.copy) : 'not copied', sha256: d.source ? mdCode(d.source.sha256) : 'n/a' })),
  };
}

export function reportView(run: RunJournal, context: ReportContext = {}) {
  const verdict = run.verdict ?? runVerdict(run.drills);
  const failures = notPassed(run);
  const kept = run.drills.flatMap((d) => d.keptFiles ?? []);
  const tidy = withoutTempFolders(run.runId, kept);
  const shares = (['RTO', 'RPO'] as const).map((metric) => shareOfTarget(run, metric)).filter((c) => c.bars.length);
  return {
    headline: headline(run, verdict, failures),
    meta: `Run ${mdCode(run.runId)} · ${run.status} · ${utc(run.startedAt)}${run.endedAt ? ` – ${utc(run.endedAt).slice(11)}` : ''} (${run.endedAt ? formatDuration(Date.parse(run.endedAt) - Date.parse(run.startedAt)) : 'still running'}) · host ${mdCode(run.host.hostname)} (${mdText(run.host.platform)}, Node ${mdText(run.host.node)}) · restore-drill ${mdText(run.version)}${run.options.jobs ? ` · up to ${run.options.jobs} drills at once (--jobs): their timings competed for the machine` : ''}`,
    runError: run.error ? mdText(tidy(run.error)) : undefined,
    failures: { linked: failures.map((f) => failureLine(f, tidy, true)), plain: failures.map((f) => failureLine(f, tidy, false)) },
    rows: run.drills.map((d) => ({
      name: d.name,
      scenario: scenario(d),
      rto: measureCell(d.rto?.measuredMs, d.rto?.targetMs, check(d, 'rto')),
      rpo: measureCell(d.rpo?.measuredMs, d.rpo?.targetMs, check(d, 'rpo'), d.rpo?.total),
      verdict: `${BADGE[verdictOf(d)]}${d.status === 'completed' ? '' : ` (${d.status})`}`,
      warned: Boolean(d.warnings?.length),
    })),
    shares: shares.map((c) => ({ mermaid: shareMermaid(c), svg: shareSvg(c) }) satisfies Chart),
    // Command lines show where a folder was cut: `cp -a …/data …/data` must not read as a no-op.
    drills: run.drills.map((d) => drillView(run, d, tidy, withoutTempFolders(run.runId, kept, '…/'))),
    environment: environment(run),
    evidence: evidenceSection(run, context),
    tempFoldersNote: run.drills.some((d) => d.backup || d.fault),
  };
}

export type ReportView = ReturnType<typeof reportView>;

/** Every chart of the report, for report.html to draw its SVG where report.md has Mermaid. */
export function charts(view: ReportView): Chart[] {
  return [...view.shares, ...view.drills.flatMap((d) => [...(d.timeline ? [d.timeline] : []), ...d.trends])];
}
