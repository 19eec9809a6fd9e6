/**
 * Field types of the drill file format, shared by every module that owns a
 * piece of it (a fault's options, a backup method's, a procedure's). Each
 * error message names the accepted forms, because the loader prints it next
 * to the file and the field.
 */
import { z } from 'zod';
import { DURATION_HINT, parseDuration, parseSize, SIZE_HINT } from './units.js';

/** "15m", "2h", "500ms", "0": milliseconds in the parsed drill, at most `maxMs`. */
function durationUpTo(maxMs: number, maxText: string, why: string) {
  return z
    .union([z.string(), z.number()])
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT}, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      if (ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is longer than ${maxText}, ${why}` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ description: `${DURATION_HINT}, at most ${maxText}` });
}

/** A wait or a time limit: no longer than a timer can wait (2^31 ms, about 24.8 days). */
export const duration = durationUpTo(24 * 86_400_000, '24d', 'the longest the harness can wait or time a command');

/** A target (RTO, RPO): compared, never waited for, so it may be long; ten years bounds it. */
export const targetDuration = durationUpTo(3650 * 86_400_000, '3650d', 'the longest target restore-drill compares against');

/** "256m", "1g": bytes in the parsed drill, between `minBytes` and `maxBytes`. */
export function size(minBytes: number, minText: string, maxBytes: number, maxText: string, why: string) {
  return z
    .string()
    .transform((value, ctx) => {
      const bytes = parseSize(value);
      if (bytes === undefined || bytes < minBytes || bytes > maxBytes) {
        ctx.addIssue({ code: 'custom', message: `expected ${SIZE_HINT}, from ${minText} (${why}) to ${maxText}, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return bytes;
    })
    .meta({ description: `${SIZE_HINT}, from ${minText} to ${maxText}` });
}

/** One of a fixed list, with the list in the error. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (issue) => `expected one of ${values.join(', ')}, got ${JSON.stringify(issue.input)}` });
}

/** The databases every cluster has: a drill's database cannot be one of them. */
const RESERVED_DATABASES = ['postgres', 'template0', 'template1'];

/** A database name as the harness creates it: a plain lower-case SQL identifier. */
export const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier (letters, digits, _), at most 63 characters')
  .refine((name) => !RESERVED_DATABASES.includes(name), {
    error: (issue) => `"${String(issue.input)}" is PostgreSQL's own database; a drill drops and recreates its database, so name another (e.g. market)`,
  });

