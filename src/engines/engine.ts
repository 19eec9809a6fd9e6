/**
 * What every engine offers the runner: instances started for a drill, a
 * description for the journal, and cleanup. Capabilities are optional: a
 * fault an instance cannot undergo is reported as unsupported, with why.
 */
import type { Instance } from './instance.js';

export type Capability = { supported: true } | { supported: false; why: string };

export interface Capabilities {
  /** SIGKILL of the postmaster, then a start that runs crash recovery. */
  kill: Capability;
  /** A data folder on a filesystem of a fixed size, so it can fill up. */
  sizeLimitedVolume: Capability;
  /** A hot standby cloned from this instance and streaming from it. */
  standby: Capability;
  /** pgBackRest beside the server: archive-push, backup, restore. */
  pgbackrest: Capability;
}

export interface InstanceOptions {
  /** Extra postgresql.conf settings, as `name: value` (values quoted as the file wants them). */
  settings?: Record<string, string>;
  /** Put the data folder on a tmpfs of this many bytes. */
  dataVolumeBytes?: number;
  /**
   * Fill the new, empty data folder instead of copying a fresh cluster into it
   * (a restored base backup, a standby cloned from a primary). Runs as the
   * server's user; the instance's own settings (port, socket) are added after.
   */
  prepareData?: (dataDir: string) => Promise<void>;
  /** More host folders the server must reach at the same path (another instance's WAL archive). */
  mounts?: string[];
  /**
   * Archive every WAL segment from the instance's first start: into its
   * archive folder with cp, or with the command `command` prepares (pgBackRest).
   */
  walArchive?: { timeoutMs: number; command?: (instance: Instance) => Promise<string> };
}

export interface Engine {
  readonly kind: 'native' | 'docker';
  /** The host's PostgreSQL client binaries the harness uses, put first on a team script's PATH. */
  readonly clientBinDir?: string;
  /** Engine facts for the journal: binaries or image, versions. */
  describe(): Record<string, unknown>;
  /** What an instance started with these options will be able to undergo, known before it starts. */
  capabilities(options?: InstanceOptions): Capabilities;
  startInstance(name: string, logDir: string, options?: InstanceOptions): Promise<Instance>;
  dispose(): Promise<void>;
}

export function unsupported(why: string): Capability {
  return { supported: false, why };
}

export const SUPPORTED: Capability = { supported: true };

/** The major version in a tool's `--version` text, e.g. "pg_dump (PostgreSQL) 15.18" → 15. */
export function majorOf(versionText: string): number | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(versionText);
  return match ? Number(match[1]) : undefined;
}
