/**
 * The image of restore-drill itself (scripts/docker/build-tool-image.sh):
 * three shards run as three containers of it at once, as three CI jobs or
 * Kubernetes pods would, each drilling on the native engine inside its
 * container (TimescaleDB included), then merged on the host. CI sets
 * RESTORE_DRILL_REQUIRE_DOCKER=1 and builds the image, so its absence there
 * is a failure; elsewhere the tests skip and say why.
 */
import { resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { drillYaml, onlyRun, tempDir, toolImageMissing, writeDrill } from './helpers.js';

const IMAGE = process.env.RESTORE_DRILL_TOOL_IMAGE ?? 'restore-drill/tool:local';
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

const missing = await toolImageMissing(IMAGE);


describe.skipIf(missing !== undefined)(`the tool's image${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('three shards run as three containers of it, each drilling on the native engine inside, then merge into the verdicts designed', async () => {
    const drills = tempDir('image-drills');
    writeDrill(drills, drillYaml({ name: 'image-a' }));
    writeDrill(drills, drillYaml({ name: 'image-b', fault: { type: 'drop-database' }, recovery: { procedure: 'restore-database' } }));
    writeDrill(drills, drillYaml({ name: 'image-c', recovery: { procedure: 'none' } })); // fails by design
    const label = `restore-drill-test=${process.pid}`;
    const shards = [1, 2, 3].map((k) => ({ k, reports: tempDir(`image-shard-${k}`) }));
    const runs = await Promise.all(
      shards.map(({ k, reports }) =>
        execa(
          'docker',
          ['run', '--rm', '--label', label, '--network', 'none', '-v', `${drills}:/drills:ro`, '-v', `${reports}:/reports`, IMAGE, 'run', '/drills', '--shard', `${k}/3`, '--reports-dir', '/reports'],
          { reject: false, timeout: 300_000 },
        ),
      ),
    );
    for (const [i, result] of runs.entries()) {
      expect([0, 1], `shard ${i + 1}/3: ${result.stderr.slice(-2000)}`).toContain(result.exitCode);
      expect(result.stderr).toMatch(new RegExp(`shard ${i + 1}/3: 1 of 3 drill\\(s\\)`));
    }
    const inContainers = shards.map(({ reports }) => onlyRun(reports));
    for (const { journal } of inContainers) {
      expect(journal.drills).toHaveLength(1);
      // The native engine ran inside the container, on the image's TimescaleDB.
      expect(journal.drills[0]!.engine?.kind).toBe('native');
      expect(journal.drills[0]!.dataset?.timescaledb).toMatch(/^\d+\.\d+\.\d+$/);
    }

    const merged = tempDir('image-merged');
    const merge = await execa('node', [...CLI, 'merge-reports', ...inContainers.map((r) => r.folder), '--reports-dir', merged], { reject: false });
    expect(merge.exitCode, merge.stderr).toBe(1); // image-c fails by design
    const { journal } = onlyRun(merged);
    expect(Object.fromEntries(journal.drills.map((d) => [d.name, d.verdict]))).toEqual({ 'image-a': 'pass', 'image-b': 'pass', 'image-c': 'fail' });
    // --rm: no container of the test is left.
    expect((await execa('docker', ['ps', '-aq', '--filter', `label=${label}`])).stdout).toBe('');
  }, 600_000);

  it('a drill that needs a tmpfs mount ends unsupported in a container that may not mount, naming --privileged', async () => {
    const reports = tempDir('image-unprivileged');
    const result = await execa(
      'docker',
      ['run', '--rm', '--network', 'none', '-v', `${resolve('drills')}:/drills:ro`, '-v', `${reports}:/reports`, IMAGE, 'run', '/drills/backup-disk-full.yaml', '--reports-dir', '/reports'],
      { reject: false, timeout: 300_000 },
    );
    const drill = onlyRun(reports).journal.drills[0]!;
    expect({ status: drill.status, verdict: drill.verdict }).toEqual({ status: 'unsupported', verdict: 'unknown' });
    expect(drill.error).toMatch(/no CAP_SYS_ADMIN, as in a container\); run the container with --privileged/);
    expect(result.exitCode).not.toBe(0);
  }, 300_000);

  it('a drill file with an error is refused inside the container with exit 2, naming the file and the field', async () => {
    const drills = tempDir('image-bad');
    writeDrill(drills, drillYaml({ name: 'image-bad', targets: { rto: 'soon', rpo: '24h' } }));
    const result = await execa('docker', ['run', '--rm', '--network', 'none', '-v', `${drills}:/drills:ro`, IMAGE, 'validate', '/drills'], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/\/drills\/image-bad\.yaml.*targets\.rto/s);
  });
});
