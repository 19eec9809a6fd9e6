/** The team's restore script, given BACKUP_FILE: the newest backup that passed its checks. */
import { dirname } from 'node:path';
import { z } from 'zod';
import { runScript } from '../backup/script.js';
import { tail } from '../exec/command.js';
import { duration } from '../support/fields.js';
import { chooseBackup } from './choose-backup.js';
import { defineProcedure } from './procedure.js';

const detail = z.strictObject({ script: z.string(), backup: z.string(), output: z.string() });

declare module '../model/journal.js' {
  interface RecoveryDetails {
    script: z.output<typeof detail>;
  }
}

export const script = defineProcedure({
  procedure: 'script',
  summary: "the team's own restore script, given BACKUP_FILE (the newest backup that passed its checks) and the connection",
  schema: z.strictObject({
    procedure: z.literal('script'),
    script: z.string().min(1).describe('The team\'s restore script, relative to the drill file.'),
    args: z.array(z.string()).default([]),
    timeout: duration.prefault('1h').describe('How long it may run before it is killed, with everything it started.'),
  }),
  detail,
  requires: { families: ['logical'] },
  heals: ['table-lost', 'table-damaged', 'database-lost', 'bad-data', 'production-lost'],
  label: (spec) => `script ${spec.script.split('/').at(-1)}`,
  run: async (ctx, spec) => {
    const backup = await chooseBackup(ctx, true);
    const result = await runScript(ctx.instance, {
      script: spec.script,
      args: spec.args,
      timeoutMs: spec.timeout,
      env: { ...(await ctx.scriptEnv()), BACKUP_FILE: backup.path, BACKUP_DIR: dirname(backup.path) },
    });
    return {
      instance: ctx.instance,
      summary: `${spec.script} restored ${backup.path}`,
      detail: { script: spec.script, backup: backup.path, output: tail(result.stdout, 10).trim() },
      restoredFrom: backup,
    };
  },
});
