/**
 * Which network a server's container joins. On Docker's default bridge every
 * container gets a network namespace of its own, and making one is most of a
 * container start: on the 2-core bench machine `docker run` takes about 0.6 s
 * on the bridge and 0.25 s on the host's network. Where the Docker engine
 * shares this machine's network, a throwaway server on the host's network
 * listens on 127.0.0.1 alone, at a port the harness picks: less exposed than
 * a bridge container, whose published port listens on every interface.
 *
 * `auto` takes the host's network only where that is sure to reach the
 * server: a Linux engine that calls itself by this machine's host name (not
 * Docker Desktop's VM, not an engine on another machine, not the host's engine
 * seen from inside a container) and is not rootless (whose host network is a
 * namespace of its own).
 */
import { hostname } from 'node:os';
import type { NetworkChoice } from '../types.js';
import type { ContainerRuntimeClient } from './runtime.js';

export type NetworkMode = Exclude<NetworkChoice, 'auto'>;

/** What the Docker engine says of itself (its /info), as far as the choice needs it. */
export interface DaemonFacts {
  Name?: string;
  OSType?: string;
  SecurityOptions?: string[];
}

/** Whether a Docker engine shares this machine's network, and if not, why not. */
export function sharesHostNetwork(daemon: DaemonFacts, host = hostname()): string | undefined {
  if (daemon.OSType !== 'linux') return `the Docker engine runs ${daemon.OSType ?? 'an unknown OS'}, not Linux`;
  if (daemon.Name !== host) return `the Docker engine's host is "${daemon.Name ?? 'unknown'}", not this machine ("${host}")`;
  if (daemon.SecurityOptions?.some((option) => option.includes('rootless'))) return 'the Docker engine is rootless: its host network is a namespace of its own';
  return undefined;
}

/** The network the engine's servers join (the one asked for, or for `auto` the host's where it is sure to reach them), and for the journal, how it was chosen. */
export async function chooseNetwork(client: ContainerRuntimeClient, choice: NetworkChoice = 'auto'): Promise<{ mode: NetworkMode; chosenBy: string }> {
  if (choice !== 'auto') return { mode: choice, chosenBy: 'engine.network' };
  const whyNot = sharesHostNetwork((await client.container.dockerode.info()) as DaemonFacts);
  return whyNot === undefined ? { mode: 'host', chosenBy: 'auto: the Docker engine runs on this machine' } : { mode: 'bridge', chosenBy: `auto: ${whyNot}` };
}
