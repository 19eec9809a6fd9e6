/** Where a command's lines go: stdout for answers, stderr for progress and problems (tests pass their own). */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};
