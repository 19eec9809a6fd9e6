/**
 * Where a team keeps its backups, read only: a local folder, or a prefix of a
 * bucket in object storage (reached with the AWS CLI, object-storage.ts).
 * Both list their files with when each was last written, and copy one out.
 */
import { chmod, copyFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupIntegrityError } from '../errors.js';
import { download, listObjects, parseS3Url, type ObjectStore } from './object-storage.js';

/** Where the team keeps its backups: a local folder, or a bucket prefix in object storage. */
export interface Place {
  /** The names in it that `wanted` accepts, each with when it was last written. */
  list(wanted: (name: string) => boolean): Promise<Array<{ name: string; modifiedAt: string }>>;
  /** Copies one of its files to `to`; false when there is none of that name. */
  fetch(name: string, to: string): Promise<boolean>;
  /** A file's full name, as the report gives it. */
  name(file: string): string;
}

export function localFolder(folder: string): Place {
  return {
    list: async (wanted) => {
      const entries = await readdir(folder).catch((error: NodeJS.ErrnoException) => {
        throw new BackupIntegrityError(`${folder}: cannot list the backup folder (${error.code ?? error.message})`);
      });
      return Promise.all(entries.filter(wanted).map(async (name) => ({ name, modifiedAt: (await stat(join(folder, name))).mtime.toISOString() })));
    },
    fetch: async (name, to) => {
      // Absent is an answer; any other failure (unreadable, no room where it goes) is an error, never "absent".
      const there = await stat(join(folder, name)).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return false;
          throw new BackupIntegrityError(`${join(folder, name)}: cannot be read (${error.code ?? error.message})`);
        },
      );
      if (!there) return false;
      await copyFile(join(folder, name), to).catch((error: Error) => {
        throw new BackupIntegrityError(`${join(folder, name)}: cannot be copied to ${to} (${error.message})`);
      });
      return true;
    },
    name: (file) => join(folder, file),
  };
}

export function bucketPrefix(store: ObjectStore, bucket: string, prefix: string): Place {
  let listed: Awaited<ReturnType<typeof listObjects>> | undefined;
  // Only the objects directly under the prefix, as a folder's files.
  const objects = async () => (listed ??= (await listObjects(store, bucket, prefix)).filter((o) => !o.key.slice(prefix.length).includes('/')));
  return {
    list: async (wanted) => (await objects()).map((o) => ({ name: o.key.slice(prefix.length), modifiedAt: o.lastModified })).filter((o) => wanted(o.name)),
    fetch: async (name, to) => {
      if (!(await objects()).some((o) => o.key === `${prefix}${name}`)) return false;
      await download(store, `s3://${bucket}/${prefix}${name}`, to);
      return true;
    },
    name: (file) => `s3://${bucket}/${prefix}${file}`,
  };
}

/** A folder, local or `s3://bucket/prefix/`, as a place. */
export function folderPlace(folder: string, store: ObjectStore): Place {
  if (!folder.startsWith('s3://')) return localFolder(folder);
  const { bucket, key } = parseS3Url(folder.endsWith('/') ? folder : `${folder}/`);
  return bucketPrefix(store, bucket, key);
}

/** Fetches a file into the drill's folder, readable by the server's user (the team's may be private to its owner). */
export async function fetchReadable(place: Place, name: string, to: string): Promise<boolean> {
  if (!(await place.fetch(name, to))) return false;
  await chmod(to, 0o644);
  return true;
}
