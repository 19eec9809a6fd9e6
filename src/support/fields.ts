/**
 * Field types of the drill file format, shared by every module that owns a
 * piece of it (a fault's options, a backup method's, a procedure's). Each
 * error message names the accepted forms, because the loader prints it next
 * to the file and the field.
 */
import { z } from 'zod';
import { DURATION_HINT, parseDuration, parseSize, SIZE_HINT } from './units.js';

/** "15m", "2h", "500ms", "0": milliseconds in the parsed drill. */
export const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT}, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ description: DURATION_HINT });

/** "256m", "1g": bytes in the parsed drill; at least `minBytes`. */
export function size(minBytes: number, minText: string) {
  return z
    .string()
    .transform((value, ctx) => {
      const bytes = parseSize(value);
      if (bytes === undefined || bytes < minBytes) {
        ctx.addIssue({ code: 'custom', message: `expected ${SIZE_HINT}, at least ${minText}, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return bytes;
    })
    .meta({ description: `${SIZE_HINT}, at least ${minText}` });
}

/** One of a fixed list, with the list in the error. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (issue) => `expected one of ${values.join(', ')}, got ${JSON.stringify(issue.input)}` });
}

/** A database name as the harness creates it: a plain lower-case SQL identifier. */
export const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier (letters, digits, _), at most 63 characters');
