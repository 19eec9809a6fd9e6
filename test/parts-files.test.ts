/**
 * The config-files and secrets parts against the real tar, gzip and openssl:
 * a restore that passes equals the backup file for file (path, content, mode,
 * owner), every fault is caught by a named step, a team's folder is only ever
 * copied, and no secret reaches the journal or survives a failed decryption.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import type { CommandRecord } from '../src/model/journal.js';
import type { PartState } from '../src/model/parts.js';
import { configFilesPart } from '../src/parts/config-files.js';
import { folderState } from '../src/parts/file-set.js';
import type { PartHost, PartInstance, PartModule } from '../src/parts/part.js';
import { secretsPart } from '../src/parts/secrets.js';
import { sha256File } from '../src/support/sha256.js';

let root: string;
let records: CommandRecord[];
let started: PartInstance[];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-files-'));
  records = [];
  started = [];
});

afterEach(async () => {
  for (const part of started) await part.dispose(false);
  await rm(root, { recursive: true, force: true });
});

function host(name: string, seed = 7): PartHost {
  return { workDir: join(root, name), logDir: join(root, 'logs'), seed, runId: 'filestest', engine: 'native', commands: { record: (record) => records.push(record) } };
}

async function start<S extends { kind: string }>(module: PartModule<S>, spec: unknown, on: PartHost): Promise<PartInstance> {
  const part = await module.start(on, module.schema.parse(spec) as S);
  started.push(part);
  return part;
}

/** Seed, back up, strike, recover, read: the drill's order. */
async function drill<S extends { kind: string }>(module: PartModule<S>, spec: unknown, on: PartHost, beforeStrike?: () => Promise<void>) {
  const part = await start(module, spec, on);
  await part.seed();
  const { backup, state } = await part.backup();
  await beforeStrike?.();
  const fault = await part.strike();
  const recovery = await part.recover();
  return { part, backup, state, fault, recovery, found: await part.read() };
}

function asState(found: PartState | { unreachable: string }): PartState {
  if ('unreachable' in found) throw new Error(found.unreachable);
  return found;
}

/** The paths whose per-item hash differs: how a report names what a restore got wrong. */
function differing(a: PartState, b: PartState): string[] {
  const paths = new Set([...Object.keys(a.perItem ?? {}), ...Object.keys(b.perItem ?? {})]);
  return [...paths].filter((path) => a.perItem?.[path] !== b.perItem?.[path]).sort();
}

async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/** Every long token of the secret files (keys, PEM lines): what must never be found in a record or a stray file. */
async function secretTokens(app: string): Promise<string[]> {
  const tokens = new Set<string>();
  for (const file of await allFiles(app)) for (const token of (await readFile(file, 'utf8')).match(/[A-Za-z0-9+/]{16,}/g) ?? []) tokens.add(token);
  return [...tokens];
}

describe('config-files', () => {
  it('lose-files: the restore passes every check and equals the backup, path, content, mode and owner', async () => {
    const { backup, state, fault, recovery, found } = await drill(configFilesPart, { kind: 'config-files', fault: { type: 'lose-files' } }, host('config'));
    expect(backup.path).toMatch(/\/backups\/config_\d{8}_\d{6}\.tar\.gz$/);
    expect(backup.sha256).toBe(await sha256File(backup.path));
    expect(fault.summary).toBe('9 files removed from the application folder');
    expect(recovery).toMatchObject({ ok: true, usedBackup: backup.path });
    expect(recovery.integrity.map((step) => [step.check, step.ok])).toEqual([
      ['sha256', true],
      ['gzip -t', true],
      ['tar -tzf', true],
    ]);
    expect(asState(found)).toEqual(state);
    expect(state.items).toBe(9);
    expect(state.perItem?.['.env']).toMatch(/^0600 /);
    expect(state.perItem?.['scripts/restore_config.sh']).toMatch(/^0755 /);
    expect(state.perItem?.['k8s/deployment.yaml']).toMatch(/^0644 /);
    expect(records.some((record) => /^tar -czf \S+config_\S+ -C \S+ \.env docker-compose\.yml alembic\.ini src\/core\/config\.py k8s\/ scripts\/$/.test(record.command))).toBe(true);
  });

  it('damage-archive: the digest check refuses the archive, and nothing is extracted', async () => {
    const { recovery, found, fault } = await drill(configFilesPart, { kind: 'config-files', fault: { type: 'damage-archive' } }, host('config'));
    expect(fault.summary).toMatch(/^16 bytes inverted at offset \d+ of config_.*; 9 files removed/);
    expect(recovery.ok).toBe(false);
    expect(recovery.error).toMatch(/^sha256: config_\S+ hashes [0-9a-f]{64}, not the [0-9a-f]{64} recorded/);
    expect(recovery.integrity).toEqual([expect.objectContaining({ check: 'sha256', ok: false })]);
    expect(asState(found).items).toBe(0);
  });

  it('damage-archive with a digest taken after the damage: gzip -t still catches it', async () => {
    const { part, backup } = await drill(configFilesPart, { kind: 'config-files', fault: { type: 'damage-archive' } }, host('config'));
    // A sidecar written late (or by the same broken disk) vouches for the damaged bytes.
    backup.sha256 = await sha256File(backup.path);
    const recovery = await part.recover();
    expect(recovery.ok).toBe(false);
    expect(recovery.integrity.map((step) => [step.check, step.ok])).toEqual([
      ['sha256', true],
      ['gzip -t', false],
    ]);
    expect(recovery.error).toMatch(/^gzip -t: gzip: .*(invalid|crc|format|corrupt)/i);
  });

  it("copies a team's source folder, drills the copy, and never touches the original", async () => {
    const source = join(root, 'team-config');
    await mkdir(join(source, 'nested/deep'), { recursive: true });
    for (const [path, mode] of [['app.conf', 0o640], ['.hidden', 0o600], ['run.sh', 0o755], ['nested/deep/values.yaml', 0o644]] as const) {
      await writeFile(join(source, path), `${path}\n`);
      await chmod(join(source, path), mode);
    }
    const before = await folderState(source);
    const { state, recovery, found } = await drill(configFilesPart, { kind: 'config-files', source, fault: { type: 'lose-files' } }, host('config'));
    expect(state.fingerprint).toBe(before.fingerprint);
    expect(recovery.ok).toBe(true);
    expect(asState(found)).toEqual(state);
    expect(await folderState(source)).toEqual(before);
    await expect(configFilesPart.start(host('other'), configFilesPart.schema.parse({ kind: 'config-files', source: join(root, 'absent'), fault: { type: 'lose-files' } }) as never)).rejects.toThrow(InputError);
  });

  it('a restore that did not really restore has another fingerprint, and the differing path is named', async () => {
    const { part, state } = await drill(configFilesPart, { kind: 'config-files', fault: { type: 'lose-files' } }, host('config'));
    const app = join(root, 'config/app');
    await chmod(join(app, '.env'), 0o644);
    const lying = asState(await part.read());
    expect(lying.fingerprint).not.toBe(state.fingerprint);
    expect(differing(state, lying)).toEqual(['.env']);
    await rm(join(app, 'k8s'), { recursive: true });
    expect(differing(state, asState(await part.read()))).toEqual(['.env', 'k8s/', 'k8s/configmap.yaml', 'k8s/deployment.yaml', 'k8s/service.yaml']);
    for (const entry of await readdir(app)) await rm(join(app, entry), { recursive: true });
    expect(asState(await part.read())).toMatchObject({ items: 0, perItem: {} });
  });

  it('the same seed gives the same fingerprint, another seed another', async () => {
    const fingerprint = async (name: string, seed: number) => {
      const part = await start(configFilesPart, { kind: 'config-files', fault: { type: 'lose-files' } }, host(name, seed));
      await part.seed();
      return asState(await part.read()).fingerprint;
    };
    expect(await fingerprint('a', 7)).toBe(await fingerprint('b', 7));
    expect(await fingerprint('c', 8)).not.toBe(await fingerprint('d', 7));
  });

  it('dispose removes what it made, and is safe twice', async () => {
    const { part } = await drill(configFilesPart, { kind: 'config-files', fault: { type: 'lose-files' } }, host('config'));
    await part.dispose(false);
    await part.dispose(false);
    expect(await readdir(join(root, 'config'))).toEqual([]);
  });
});

describe('secrets', () => {
  it('right key: decrypted, extracted and 600 again, equal to the backup', async () => {
    const { backup, state, recovery, found } = await drill(secretsPart, { kind: 'secrets', fault: { type: 'lose-files' } }, host('secrets'));
    expect(backup.path).toMatch(/\/backups\/secrets_\d{8}_\d{6}\.tar\.gz\.enc$/);
    expect(recovery.ok).toBe(true);
    expect(recovery.integrity.map((step) => [step.check, step.ok])).toEqual([
      ['sha256', true],
      ['openssl enc -d', true],
      ['tar -xzf', true],
    ]);
    expect(asState(found)).toEqual(state);
    expect(Object.keys(state.perItem ?? {}).sort()).toEqual(['./', '.env', 'secure/', 'secure/api.key', 'secure/tls.pem']);
    for (const [path, item] of Object.entries(state.perItem ?? {})) if (!path.endsWith('/')) expect(item).toMatch(/^0600 /);
    expect(await readdir(join(root, 'secrets'))).toEqual(expect.not.arrayContaining([expect.stringMatching(/^staging-/)]));
  });

  it('wrong key: openssl refuses it, and no plaintext is left anywhere under the work folder', async () => {
    const on = host('secrets');
    let tokens: string[] = [];
    const { recovery, found, fault } = await drill(secretsPart, { kind: 'secrets', fault: { type: 'wrong-key' } }, on, async () => {
      tokens = await secretTokens(join(on.workDir, 'app'));
    });
    expect(tokens.length).toBeGreaterThan(5);
    expect(fault.summary).toMatch(/key file replaced by another key.*3 files removed/);
    expect(recovery.ok).toBe(false);
    // A wrong key leaves valid padding about once in 256 runs (the salt is random): openssl then passes garbage, and gzip refuses it.
    expect(recovery.error).toMatch(/^(openssl enc -d: bad decrypt|tar -xzf: gzip: stdin: not in gzip format)/);
    expect(recovery.integrity.at(-1)).toMatchObject({ ok: false });
    expect(asState(found).items).toBe(0);
    for (const file of await allFiles(on.workDir)) {
      const content = await readFile(file, 'latin1');
      for (const token of tokens) expect(content.includes(token), `${token.slice(0, 4)}… in ${file}`).toBe(false);
    }
    expect(await readdir(on.workDir)).toEqual(['app', 'backups', 'secure-key']);
  });

  it('a decryption that fails at its last block leaves none of what tar had already extracted', async () => {
    const on = host('secrets');
    const part = await start(secretsPart, { kind: 'secrets', fault: { type: 'lose-files' } }, on);
    await part.seed();
    const tokens = await secretTokens(join(on.workDir, 'app'));
    const { backup } = await part.backup();
    // The last cipher block damaged, and a digest taken after it: every block before it decrypts, tar extracts every file, then openssl finds the padding bad.
    const bytes = await readFile(backup.path);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(backup.path, bytes);
    backup.sha256 = await sha256File(backup.path);
    await part.strike();
    const recovery = await part.recover();
    expect(recovery.ok).toBe(false);
    expect(recovery.error).toMatch(/^(openssl enc -d: bad decrypt|tar -xzf: gzip)/);
    for (const file of await allFiles(on.workDir)) {
      const content = await readFile(file, 'latin1');
      for (const token of tokens) expect(content.includes(token), `${token.slice(0, 4)}… in ${file}`).toBe(false);
    }
  });

  it('damage-archive: refused before decryption', async () => {
    const { recovery } = await drill(secretsPart, { kind: 'secrets', fault: { type: 'damage-archive' } }, host('secrets'));
    expect(recovery.ok).toBe(false);
    expect(recovery.error).toMatch(/^sha256: secrets_\S+\.tar\.gz\.enc hashes/);
    expect(recovery.integrity.map((step) => step.check)).toEqual(['sha256']);
  });

  it('no secret value is in any recorded command, stderr, error, summary or state, and none needed redacting', async () => {
    let tokens: string[] = [];
    const outputs: unknown[] = [];
    // The same seed, so the same secrets, through a restore that works and one that fails.
    for (const type of ['lose-files', 'wrong-key'] as const) {
      const result = await drill(secretsPart, { kind: 'secrets', name: 'vault', fault: { type } }, host(type), async () => {
        tokens = await secretTokens(join(root, type, 'app'));
      });
      outputs.push(result.backup, result.state, result.fault, result.recovery, result.found);
    }
    expect(records.length).toBeGreaterThanOrEqual(5);
    const recorded = records.map((record) => `${record.command}\n${record.stderrTail}`).join('\n');
    expect(recorded).toContain('openssl enc -aes-256-cbc -salt -pbkdf2 -pass file:');
    // Nothing was redacted: no secret reached a command line or a tool's stderr in the first place.
    expect(recorded).not.toContain('****');
    const everything = recorded + JSON.stringify(outputs);
    for (const token of tokens) expect(everything.includes(token), token.slice(0, 4)).toBe(false);
  });

  it('a restore whose mode changed from 600 to 644, or whose folder is open to all, has another fingerprint, naming the file or folder', async () => {
    const { part, state, recovery } = await drill(secretsPart, { kind: 'secrets', fault: { type: 'lose-files' } }, host('secrets'));
    expect(recovery.ok).toBe(true);
    await chmod(join(root, 'secrets/app/secure/api.key'), 0o644);
    const lying = asState(await part.read());
    expect(lying.fingerprint).not.toBe(state.fingerprint);
    expect(differing(state, lying)).toEqual(['secure/api.key']);
    // A folder's mode is compared too: secrets restored into a folder anyone may list.
    await chmod(join(root, 'secrets/app/secure/api.key'), 0o600);
    await chmod(join(root, 'secrets/app/secure'), 0o777);
    expect(differing(state, asState(await part.read()))).toEqual(['secure/']);
    // And the part's own folder.
    await chmod(join(root, 'secrets/app/secure'), 0o755);
    await chmod(join(root, 'secrets/app'), 0o777);
    expect(differing(state, asState(await part.read()))).toEqual(['./']);
  });

  it('the same seed gives the same secrets, another seed others', async () => {
    const fingerprint = async (name: string, seed: number) => {
      const part = await start(secretsPart, { kind: 'secrets', fault: { type: 'lose-files' } }, host(name, seed));
      await part.seed();
      return asState(await part.read()).fingerprint;
    };
    expect(await fingerprint('a', 7)).toBe(await fingerprint('b', 7));
    expect(await fingerprint('c', 8)).not.toBe(await fingerprint('d', 7));
  });

  it('dispose, even keeping, leaves no plaintext or key: only the encrypted backups; safe twice', async () => {
    const { part } = await drill(secretsPart, { kind: 'secrets', fault: { type: 'lose-files' } }, host('secrets'));
    await part.dispose(true);
    await part.dispose(true);
    const left = await allFiles(join(root, 'secrets'));
    expect(left.length).toBe(1);
    expect(left[0]).toMatch(/\/backups\/secrets_\S+\.tar\.gz\.enc$/);
  });
});
