/** Backup file names as the runbooks write them. */
import { stat } from 'node:fs/promises';

export async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** `quant_trading_20260122_020000.dump`, the runbooks' naming. */
export function stampedName(prefix: string, extension: string, at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  return extension ? `${prefix}_${stamp}.${extension}` : `${prefix}_${stamp}`;
}
