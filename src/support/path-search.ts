/** Whether a tool is installed: an executable file of its name in a folder on PATH, found without starting it. */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function executableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function onPath(tool: string): boolean {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .some((dir) => executableFile(join(dir, tool)));
}
