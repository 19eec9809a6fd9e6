/**
 * The CI and Kubernetes examples in examples/, validated as far as this
 * machine allows: no GitHub, GitLab or Kubernetes here, so each file is read
 * as YAML, its shape checked against the failure modes it must avoid (a
 * shard count that disagrees with the matrix, a merge skipped after a failed
 * shard), and then its own commands run for real, as its runner would run
 * them: GitHub's steps in bash with the matrix value put in; GitLab's script
 * and the Kubernetes pods' command in containers of the tool's image, with
 * the parallel index or completion index set and the volumes mounted where
 * the files say. Each ends in a merged report with the drills' designed verdicts.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { drillYaml, onlyRun, tempDir, toolImageMissing, writeDrill } from './helpers.js';

const IMAGE = 'restore-drill/tool:local';
const MAIN = resolve('src/cli/main.ts');
const TSX = import.meta.resolve('tsx');
const DESIGNED = { 'ci-a': 'pass', 'ci-b': 'pass', 'ci-c': 'fail' };

/** A workspace as a runner checks out: the repository's drills/ folder, here three tiny drills. */
function workspace(label: string): string {
  const dir = tempDir(label);
  const drills = join(dir, 'drills');
  mkdirSync(drills);
  writeDrill(drills, drillYaml({ name: 'ci-a' }));
  writeDrill(drills, drillYaml({ name: 'ci-b', fault: { type: 'drop-database' }, recovery: { procedure: 'restore-database' } }));
  writeDrill(drills, drillYaml({ name: 'ci-c', recovery: { procedure: 'none' } })); // fails by design
  return dir;
}

/** The verdicts of the one run folder merge-reports wrote under `reports`. */
function mergedVerdicts(reports: string): Record<string, string | undefined> {
  const { journal } = onlyRun(reports);
  expect(journal.merged?.shards).toHaveLength(3);
  return Object.fromEntries(journal.drills.map((d) => [d.name, d.verdict]));
}

/** The N of every `--shard K/N` in the text. */
const shardCounts = (text: string) => [...text.matchAll(/--shard (?:\$\{\{[^}]*\}\}|[^\s/]+)\/(\S+)/g)].map((m) => m[1]);

describe('examples/github-actions.yml', () => {
  const workflow = parse(readFileSync('examples/github-actions.yml', 'utf8')) as {
    on: { schedule: Array<{ cron: string }> };
    jobs: Record<string, { needs?: string; if?: string; strategy?: { 'fail-fast': boolean; matrix: { shard: number[] } }; steps: Array<{ run?: string; uses?: string; if?: string; with?: Record<string, string> }> }>;
  };
  const { drill, report } = workflow.jobs;

  it('has a shard count equal to its matrix, runs every shard when one fails, and merges after a failed shard', () => {
    expect(workflow.on.schedule[0]!.cron.split(' ')).toHaveLength(5);
    const shards = drill!.strategy!.matrix.shard;
    expect(shards).toEqual(shards.map((_, i) => i + 1));
    expect(shardCounts(drill!.steps.map((s) => s.run ?? '').join('\n'))).toEqual([String(shards.length)]);
    expect(drill!.strategy!['fail-fast']).toBe(false);
    expect(drill!.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))?.if).toBe('always()');
    expect(report!.needs).toBe('drill');
    expect(report!.if).toBe('always()');
  });

  it("its steps, run in bash as the runner would (npx restore-drill being this checkout's), merge into the designed verdicts", async () => {
    // `npm ci` is the runner's install; restore-drill is this checkout's, run through tsx.
    const npx = `npx() { [ "$1" = restore-drill ] || { echo "npx $1: only restore-drill is expected" >&2; return 127; }; shift; node --import '${TSX}' '${MAIN}' "$@"; }`;
    const runSteps = async (steps: NonNullable<typeof drill>['steps'], cwd: string, values: Record<string, string>) => {
      const codes: number[] = [];
      for (const step of steps) {
        if (!step.run || step.run === 'npm ci') continue;
        const line = step.run.replace(/\$\{\{\s*matrix\.shard\s*\}\}/g, values.shard ?? '');
        const result = await execa('bash', ['-e', '-c', `${npx}\n${line}`], { cwd, reject: false, env: { GITHUB_STEP_SUMMARY: join(cwd, 'summary.md') } });
        codes.push(result.exitCode ?? -1);
        if (result.exitCode !== 0 && step.if !== 'always()') break; // a failed step ends the job, as on GitHub
      }
      return codes;
    };
    const reportSide = workspace('gha-report');
    const upload = drill!.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))!.with!;
    const download = report!.steps.find((s) => s.uses?.startsWith('actions/download-artifact'))!.with!;
    for (const shard of drill!.strategy!.matrix.shard) {
      const runner = workspace(`gha-shard-${shard}`);
      const codes = await runSteps(drill!.steps, runner, { shard: String(shard) });
      expect([0, 1]).toContain(codes.at(-1));
      // upload-artifact, then download-artifact without a name: each artifact in <path>/<name>/.
      const name = upload.name!.replace(/\$\{\{\s*matrix\.shard\s*\}\}/g, String(shard));
      cpSync(join(runner, upload.path!), join(reportSide, download.path!, name), { recursive: true });
    }
    const codes = await runSteps(report!.steps, reportSide, {});
    expect(codes[0]).toBe(1); // merge-reports: a drill failed by design
    expect(mergedVerdicts(join(reportSide, 'reports'))).toEqual(DESIGNED);
    expect(readFileSync(join(reportSide, 'summary.md'), 'utf8')).toMatch(/ci-c/);
  }, 300_000);
});

const missing = await toolImageMissing(IMAGE);

/** Runs a shell script in a container of the tool's image, as a CI job or a pod would. */
function inImage(script: string, options: { env?: Record<string, string>; mounts: Array<[host: string, container: string, readOnly?: boolean]>; workdir?: string }) {
  const args = ['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh'];
  for (const [name, value] of Object.entries(options.env ?? {})) args.push('-e', `${name}=${value}`);
  for (const [host, container, readOnly] of options.mounts) args.push('-v', `${host}:${container}${readOnly ? ':ro' : ''}`);
  if (options.workdir) args.push('-w', options.workdir);
  return execa('docker', [...args, IMAGE, '-c', script], { reject: false, timeout: 300_000 });
}

describe.skipIf(missing !== undefined)(`examples/gitlab-ci.yml and examples/kubernetes/${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('GitLab: each parallel job, run in the image with its CI_NODE_INDEX, then the merge job over their artifacts, give the designed verdicts', async () => {
    const jobs = parse(readFileSync('examples/gitlab-ci.yml', 'utf8')) as Record<
      string,
      { image: { name: string }; parallel?: number; when?: string; needs?: Array<{ job: string }>; script: string[]; artifacts: { when: string; paths: string[]; reports?: { junit: string } } }
    >;
    const shardJob = jobs['restore-drill']!;
    const mergeJob = jobs['restore-drill-report']!;
    expect(shardJob.image.name).toBe(IMAGE);
    expect(shardCounts(shardJob.script.join('\n'))).toEqual(['$CI_NODE_TOTAL']);
    expect(shardJob.artifacts.when).toBe('always');
    expect(mergeJob.when).toBe('always');
    expect(mergeJob.needs).toEqual([expect.objectContaining({ job: 'restore-drill' })]);

    const merge = workspace('gitlab-merge');
    for (let index = 1; index <= shardJob.parallel!; index++) {
      const build = workspace(`gitlab-${index}`);
      const result = await inImage(['set -e', ...shardJob.script].join('\n'), {
        env: { CI_NODE_INDEX: String(index), CI_NODE_TOTAL: String(shardJob.parallel) },
        mounts: [[build, '/builds/project']],
        workdir: '/builds/project',
      });
      expect([0, 1], result.stderr.slice(-2000)).toContain(result.exitCode);
      // GitLab extracts every needed job's artifacts into the one workspace.
      for (const path of shardJob.artifacts.paths) cpSync(join(build, path), join(merge, path), { recursive: true });
    }
    const merged = await inImage(['set -e', ...mergeJob.script].join('\n'), { mounts: [[merge, '/builds/project']], workdir: '/builds/project' });
    expect(merged.exitCode, merged.stderr.slice(-2000)).toBe(1); // a drill failed by design
    expect(mergedVerdicts(join(merge, 'merged'))).toEqual(DESIGNED);
    const junit = mergeJob.artifacts.reports!.junit.split('/');
    expect(readdirSync(join(merge, junit[0]!)).some((run) => readdirSync(join(merge, junit[0]!, run)).includes(junit[2]!))).toBe(true);
  }, 600_000);

  it('Kubernetes: each index of the Indexed Job, run in the image with its JOB_COMPLETION_INDEX and volumes, then the merge pod, give the designed verdicts', async () => {
    type Pod = { containers: Array<{ image: string; command: string[]; args: string[]; volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>; volumes: Array<{ name: string; configMap?: object; persistentVolumeClaim?: object }> };
    type CronJob = { kind: string; metadata: { name: string }; spec: { schedule: string; jobTemplate: { spec: { completionMode?: string; completions?: number; parallelism?: number; template: { spec: Pod } } } } };
    const docs = parseAllDocuments(readFileSync('examples/kubernetes/restore-drills.yaml', 'utf8')).map((d) => d.toJS() as CronJob);
    const byName = Object.fromEntries(docs.map((d) => [d.metadata.name, d]));
    const shards = byName['restore-drill-shards']!;
    const mergeJob = byName['restore-drill-merge']!;
    for (const doc of docs) {
      expect(doc.kind).toBe('CronJob');
      expect(doc.spec.schedule.split(' ')).toHaveLength(5);
    }
    const job = shards.spec.jobTemplate.spec;
    expect(job.completionMode).toBe('Indexed');
    expect(job.parallelism).toBe(job.completions);
    const pod = job.template.spec;
    expect(shardCounts(pod.containers[0]!.args.join('\n'))).toEqual([String(job.completions)]);

    // Each volume on the host: the ConfigMap is the drill files, the claim a folder both jobs share.
    const drills = join(workspace('k8s-configmap'), 'drills');
    const claim = tempDir('k8s-claim');
    const mountsOf = (spec: Pod) =>
      spec.containers[0]!.volumeMounts.map((m): [string, string, boolean] => {
        const volume = spec.volumes.find((v) => v.name === m.name)!;
        return [volume.configMap ? drills : claim, m.mountPath, Boolean(m.readOnly)];
      });
    const script = (spec: Pod) => {
      const [shell, flag] = spec.containers[0]!.command;
      expect([shell, flag]).toEqual(['/bin/sh', '-c']);
      expect(spec.containers[0]!.image).toBe(IMAGE);
      return spec.containers[0]!.args[0]!;
    };
    for (let index = 0; index < job.completions!; index++) {
      const result = await inImage(script(pod), { env: { JOB_COMPLETION_INDEX: String(index) }, mounts: mountsOf(pod) });
      expect([0, 1], result.stderr.slice(-2000)).toContain(result.exitCode);
    }
    const mergePod = mergeJob.spec.jobTemplate.spec.template.spec;
    const merged = await inImage(script(mergePod), { mounts: mountsOf(mergePod) });
    expect(merged.exitCode, merged.stderr.slice(-2000)).toBe(1); // a drill failed by design
    const [month] = readdirSync(claim);
    expect(month).toMatch(/^\d{4}-\d{2}$/);
    expect(mergedVerdicts(join(claim, month!, 'merged'))).toEqual(DESIGNED);
  }, 600_000);
});
