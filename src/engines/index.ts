/**
 * The engines, behind one door: the only module that knows both concrete
 * engines. The drill asks for an engine by kind and gets the Engine
 * interface.
 */
import { DockerEngine, type ToolSource } from './docker/engine.js';
import { removeContainerLeftovers } from './docker/leftovers.js';
import { dockerAvailable, dockerClient } from './docker/runtime.js';
import { NativeEngine } from './native/engine.js';
import { removeLeftovers } from './native/leftovers.js';
import { clearSeedCache } from './shared/seed-cache.js';
import type { Engine, EngineKind, EngineOptions, NetworkChoice } from './types.js';

export { DEFAULT_IMAGE, defaultImage } from './docker/images.js';

/** Which engine a drill runs on, and how: the binaries for native, the image and tool source for docker. */
export interface EngineChoice {
  kind: EngineKind;
  binDir?: string;
  image?: string;
  tools?: ToolSource;
  network?: NetworkChoice;
}

/**
 * What runs left behind: the temp folders of harnesses that are gone (their
 * servers stopped, their mounts undone), with `kept` also the folders runs kept
 * on purpose, the containers of harnesses that are gone, where a Docker
 * engine answers, and the seed cache. Returns what was removed.
 */
export async function cleanLeftovers(options: { kept: boolean }): Promise<{ folders: string[]; containers: string[]; cache: string[] }> {
  const folders = await removeLeftovers(undefined, options);
  const containers = (await dockerAvailable()) === undefined ? await removeContainerLeftovers(await dockerClient()) : [];
  return { folders, containers, cache: await clearSeedCache() };
}

export function createEngine(choice: EngineChoice, options: EngineOptions): Promise<Engine> {
  return choice.kind === 'docker'
    ? DockerEngine.create({ ...options, image: choice.image!, tools: choice.tools, network: choice.network })
    : NativeEngine.create({ ...options, binDir: choice.binDir });
}
