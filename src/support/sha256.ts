/** SHA-256 of a file, read in pieces: backups and evidence folders can be large. */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const READ_BYTES = 2 ** 20;
const SMALLEST_PIECE = 2 ** 16;

/**
 * Two buffers used in turn, the next piece read while the last is hashed: a
 * read stream allocates (and faults in) a new buffer for every piece and
 * reads only when asked, which made hashing a medium dump about 2.5 times
 * slower (the backup and its check both hash it).
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path, 'r');
  try {
    // Pieces no larger than the file (the files of a folder are hashed one by one), nor so small that reads multiply.
    const piece = Math.min(READ_BYTES, Math.max(SMALLEST_PIECE, (await file.stat()).size));
    let [current, next] = [Buffer.allocUnsafeSlow(piece), Buffer.allocUnsafeSlow(piece)];
    let reading = file.read(current, 0, piece, null);
    for (;;) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      reading = file.read(next, 0, piece, null);
      hash.update(current.subarray(0, bytesRead));
      [current, next] = [next, current];
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}
