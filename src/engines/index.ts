/**
 * The engines, behind one door: the only module that knows both concrete
 * engines. The drill asks for an engine by kind and gets the Engine
 * interface.
 */
import { DockerEngine, type ToolSource } from './docker/engine.js';
import { NativeEngine } from './native/engine.js';
import type { Engine, EngineKind, EngineOptions } from './types.js';

export { DEFAULT_IMAGE, defaultImage } from './docker/images.js';

/** Which engine a drill runs on, and how: the binaries for native, the image and tool source for docker. */
export interface EngineChoice {
  kind: EngineKind;
  binDir?: string;
  image?: string;
  tools?: ToolSource;
}

export function createEngine(choice: EngineChoice, options: EngineOptions): Promise<Engine> {
  return choice.kind === 'docker'
    ? DockerEngine.create({ ...options, image: choice.image!, tools: choice.tools })
    : NativeEngine.create({ ...options, binDir: choice.binDir });
}
