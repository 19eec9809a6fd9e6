/**
 * The encrypted secrets, backed up and restored as the runbook's
 * backup_secrets.sh and restore_secrets.sh do: tar piped through
 * `openssl enc -aes-256-cbc -pbkdf2` with a key file kept outside what is
 * backed up. The secrets are generated, never the team's: no value reaches a
 * command line, a journal, an error or a state (hashes only), and no
 * plaintext outlives the drill.
 */
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type CommandResult, redact } from '../exec/command.js';
import { registerCleanup } from '../support/cleanup.js';
import { identifier, oneOf } from '../support/fields.js';
import { derive, type FileSpec, folderState, openFileSet, ownerFlags, readFolder, recoverFrom, targetsSchema, toolsOnPath, writeFiles } from './file-set.js';
import type { PartModule } from './part.js';

const schema = z.strictObject({
  kind: z.literal('secrets').describe('Encrypted secrets (.env, TLS key, API key), backed up with tar | openssl enc as backup_secrets.sh does.'),
  name: identifier.default('secrets').describe('The part\'s name in the report.'),
  fault: z
    .strictObject({
      type: oneOf(['lose-files', 'damage-archive', 'wrong-key']).describe(
        'lose-files: the secrets are removed; damage-archive: the newest encrypted backup is damaged as well; wrong-key: the secrets are removed and the key file replaced by another (rotated, and the old key never backed up).',
      ),
    })
    .describe('What happens to the secrets.'),
  targets: targetsSchema,
});

export type SecretsSpec = z.output<typeof schema>;

const SECRET_FILES = ['.env', 'secure/tls.pem', 'secure/api.key'];

/** backup_secrets.sh: paths are arguments, the secrets never on a command line; pipefail, so a failed tar fails the backup instead of encrypting an empty stream. */
const BACKUP = 'set -o pipefail; cd "$1" && tar -czf - .env secure/*.pem secure/*.key | openssl enc -aes-256-cbc -salt -pbkdf2 -pass file:"$2" > "$3"';

/**
 * restore_secrets.sh's pipeline, extracting into a staging folder. tar drains
 * what it did not read, so openssl always finishes and gives its own verdict
 * (bad decrypt) rather than dying of a closed pipe; exit 10 is openssl's
 * failure, 11 tar's.
 */
const RESTORE =
  'openssl enc -aes-256-cbc -d -pbkdf2 -pass file:"$1" -in "$2" | { tar -xzf - -C "$3" "${@:4}"; s=$?; cat >/dev/null; exit $s; }; s=("${PIPESTATUS[@]}"); exit $(( s[0] ? 10 : s[1] ? 11 : 0 ))';

/** Secrets shaped like the runbook's (the PEM is random bytes, not a usable key: the drill tests the backup, not TLS), drawn from the seed. */
function generatedSecrets(seed: number) {
  const hex = (name: string, bytes = 32) => derive(seed, `secrets/${name}`, bytes).toString('hex');
  const env = { EXCHANGE_API_KEY: hex('exchange-key', 16), EXCHANGE_API_SECRET: hex('exchange-secret'), JWT_SECRET: hex('jwt'), DATABASE_PASSWORD: hex('db-password', 16) };
  const pem = derive(seed, 'secrets/tls', 192).toString('base64').match(/.{1,64}/g)!;
  const apiKey = hex('api.key');
  const [key, rotatedKey] = [hex('encryption.key'), hex('rotated-encryption.key')];
  const files: FileSpec[] = [
    { path: '.env', mode: 0o600, content: Object.entries(env).map(([name, value]) => `${name}=${value}\n`).join('') },
    { path: 'secure/tls.pem', mode: 0o600, content: ['-----BEGIN PRIVATE KEY-----', ...pem, '-----END PRIVATE KEY-----', ''].join('\n') },
    { path: 'secure/api.key', mode: 0o600, content: `${apiKey}\n` },
  ];
  // Whole contents first: redaction replaces them before their parts.
  return { files, key, rotatedKey, values: [...files.map((file) => file.content), ...Object.values(env), ...pem, apiKey, key, rotatedKey] };
}

export const secretsPart: PartModule<SecretsSpec> = {
  kind: 'secrets',
  summary:
    "The application's secrets (.env, *.pem, *.key), backed up as the runbook does: tar -czf - | openssl enc -aes-256-cbc -salt -pbkdf2 -pass file:KEY; restored with openssl enc -d into a staging folder, moved into place only when whole, chmod 600; no plaintext is left on disk and no secret is written to any output.",
  schema,
  available: () => toolsOnPath(['bash', 'tar', 'gzip', 'openssl']),
  async start(host, spec) {
    const made = generatedSecrets(host.seed);
    // The harness's own user, as the runbook's root; every secret redacted wherever a command is recorded.
    const set = await openFileSet(host, { ...host.commands, runAs: undefined, secrets: [...(host.commands.secrets ?? []), ...made.values] });
    const keyDir = join(host.workDir, 'secure-key');
    const keyFile = join(keyDir, 'encryption.key');
    const writeKey = (key: string) => writeFiles(keyDir, [{ path: 'encryption.key', content: `${key}\n`, mode: 0o600 }]);
    let staging: string | undefined;
    const removePlaintext = async () => {
      for (const path of [set.app, keyDir, staging]) if (path) await rm(path, { recursive: true, force: true });
    };
    // On Ctrl-C too, no plaintext secret or key is left on disk.
    const unregister = registerCleanup(removePlaintext);

    /** The tool's complaint from the pipeline's stderr: tar's and gzip's lines, or the others (openssl's). */
    const complaint = (result: CommandResult, tool: 'openssl' | 'tar') => {
      const lines = redact(result.stderr, set.ctx.secrets).trim().split('\n').filter((line) => line && /^(tar|gzip):/.test(line) === (tool === 'tar'));
      return new Error(lines.join('; ') || (result.timedOut ? 'timed out' : `exited with code ${result.exitCode}`));
    };

    return {
      async seed() {
        await writeFiles(set.app, made.files);
        await writeKey(made.key);
      },
      async backup() {
        const path = set.stampedPath('secrets', '.tar.gz.enc');
        await set.run('bash', ['-c', BACKUP, 'backup_secrets', set.app, keyFile, path]);
        return { backup: await set.recordBackup(path, { files: ['.env', 'secure/*.pem', 'secure/*.key'], key: keyFile }), state: await folderState(set.app) };
      },
      strike: () =>
        set.strike(spec.fault.type, async () =>
          spec.fault.type === 'wrong-key' ? (await writeKey(made.rotatedKey), 'the key file replaced by another key (rotated, the old one never backed up); ') : '',
        ),
      async recover() {
        // Decrypted into a staging folder of its own, moved into place only once tar succeeded; the staging goes whatever happened, so a failed decryption leaves no partial plaintext.
        let result: CommandResult | undefined;
        try {
          return await recoverFrom(set.taken.at(-1), (backup) => [
            {
              check: 'openssl enc -d',
              run: async () => {
                staging = await mkdtemp(join(host.workDir, 'staging-'));
                result = await set.run('bash', ['-c', RESTORE, 'restore_secrets', keyFile, backup.path, staging, ...ownerFlags()], { allowFailure: true });
                if (result.failed && result.exitCode !== 11) throw complaint(result, 'openssl');
                return 'decrypted with the key file';
              },
            },
            {
              check: 'tar -xzf',
              run: async () => {
                if (result!.failed) throw complaint(result!, 'tar');
                return `${(await folderState(staging!)).items} files extracted into the staging folder`;
              },
            },
            {
              check: 'move into place',
              restore: true,
              run: async () => {
                const entries = await readdir(staging!);
                for (const entry of entries) {
                  await rm(join(set.app, entry), { recursive: true, force: true });
                  await rename(join(staging!, entry), join(set.app, entry));
                }
                return `${entries.join(', ')} moved into the application folder`;
              },
            },
            { check: 'chmod 600', restore: true, run: async () => (await set.run('chmod', ['600', ...SECRET_FILES.map((file) => join(set.app, file))]), SECRET_FILES.join(', ')) },
          ]);
        } finally {
          if (staging) await rm(staging, { recursive: true, force: true });
          staging = undefined;
        }
      },
      read: () => readFolder(set.app),
      async dispose(keep) {
        unregister();
        // Even with keep: the plaintext secrets and the key go, no plaintext secret is left on disk; only the encrypted backups are kept.
        await removePlaintext();
        await set.remove(keep);
      },
    };
  },
};
