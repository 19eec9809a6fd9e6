/**
 * The Docker engine's access to Docker, through testcontainers' own client
 * (which wraps dockerode): whether an engine answers, and a container's log
 * as text. testcontainers' reaper (Ryuk) is off: its image cannot be pulled
 * everywhere, and the harness removes what it starts itself (leftovers.ts).
 */
import { getContainerRuntimeClient, type ContainerRuntimeClient } from 'testcontainers';
import { errorMessage, SetupError } from '../../errors.js';

export type { ContainerRuntimeClient };

/** Docker's log stream for a container without a TTY: 8-byte frame headers, then the payload. */
function demux(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Docker's log stream for a container without a TTY, split into what it wrote to stdout and to stderr. */
export function demuxStreams(buffer: Buffer): { stdout: string; stderr: string } {
  const parts: Record<number, Buffer[]> = { 1: [], 2: [] };
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts[buffer[offset] === 2 ? 2 : 1]!.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return { stdout: Buffer.concat(parts[1]!).toString('utf8'), stderr: Buffer.concat(parts[2]!).toString('utf8') };
}

/** A container's whole log, as text. */
export async function containerLog(client: ContainerRuntimeClient, id: string): Promise<string> {
  return demux(await client.container.getById(id).logs({ stdout: true, stderr: true, follow: false }));
}

/** Undefined when a Docker engine answers; otherwise why not. */
export async function dockerAvailable(): Promise<string | undefined> {
  try {
    await getContainerRuntimeClient();
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

export async function dockerClient(): Promise<ContainerRuntimeClient> {
  try {
    return await getContainerRuntimeClient();
  } catch (error) {
    throw new SetupError(
      'DOCKER_UNAVAILABLE',
      `--engine docker needs a Docker engine, and none answered (${errorMessage(error).split('\n')[0]}). ` +
        'Start dockerd (or Docker Desktop), check DOCKER_HOST, or run with --engine native.',
    );
  }
}
