/**
 * Which faults, backup methods and recovery procedures fit together, derived
 * from what each module declares (its family, features, harms, requirements),
 * never written pair by pair. Checked on the raw file, section by section, so
 * one validation run reports every problem even when other fields are wrong.
 */
import { BACKUP_METHODS } from '../backup/index.js';
import type { BackupMethod } from '../backup/method.js';
import { FAULTS } from '../faults/index.js';
import type { Fault } from '../faults/fault.js';
import { HARMS } from '../model/kinds.js';
import type { Procedure } from '../recovery/procedure.js';
import { PROCEDURES } from '../recovery/index.js';
import { ROLLBACK_HARMS } from './rollback.js';

export interface Problem {
  path: string;
  message: string;
}

type Section = Record<string, unknown> | undefined;

function section(raw: Record<string, unknown>, key: string): Section {
  const value = raw[key];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The module a section names, and its options parsed by the module's own schema (undefined where they are invalid: the schema reports that). */
function resolve<M extends { schema: { safeParse(input: unknown): { success: boolean; data?: unknown } } }>(
  modules: readonly M[],
  key: keyof M,
  raw: Section,
  field: string,
): { module: M; spec: unknown } | undefined {
  const name = raw?.[field];
  const module = modules.find((m) => m[key] === name);
  if (!module) return undefined;
  const parsed = module.schema.safeParse(raw);
  return { module, spec: parsed.success ? parsed.data : undefined };
}

function names(list: readonly string[]): string {
  return list.length ? list.join(', ') : 'none';
}

export function compatibilityProblems(raw: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  const backup = resolve(BACKUP_METHODS as readonly BackupMethod[], 'method', section(raw, 'backup'), 'method');
  const fault = resolve(FAULTS as readonly Fault[], 'type', section(raw, 'fault'), 'type');
  const recovery = resolve(PROCEDURES as readonly Procedure[], 'procedure', section(raw, 'recovery'), 'procedure');
  const method = backup?.module;
  const procedure = recovery?.module;
  const faultSpec = fault?.spec as Parameters<Fault['harm']>[0] | undefined;
  const recoverySpec = recovery?.spec as Parameters<Procedure['label']>[0] | undefined;

  if (method && procedure?.requires?.families && !procedure.requires.families.includes(method.family)) {
    const fitting = BACKUP_METHODS.filter((m) => procedure.requires!.families!.includes(m.family)).map((m) => m.method);
    problems.push({
      path: 'recovery.procedure',
      message: `${procedure.procedure} restores from a ${procedure.requires.families.join(' or ')} backup (backup.method ${names(fitting)}); ${method.method} makes a ${method.family} one`,
    });
  }
  const format = section(raw, 'backup')?.format ?? (backup?.spec as { format?: unknown } | undefined)?.format;
  if (typeof format === 'string' && procedure?.requires?.formats && !procedure.requires.formats.includes(format)) {
    problems.push({
      path: 'recovery.procedure',
      message: `${procedure.procedure} reads ${procedure.requires.formats.join(' or ')} backups; backup.format ${format} does not fit (use restore-database)`,
    });
  }
  for (const feature of fault?.module.requires?.backupFeatures ?? []) {
    if (method && !(method.features ?? []).includes(feature)) {
      const offering = BACKUP_METHODS.filter((m) => (m.features as readonly string[] | undefined)?.includes(feature)).map((m) => m.method);
      problems.push({ path: 'fault.type', message: `${fault!.module.type} needs a backup that offers ${feature} (backup.method ${names(offering)}); backup.method is ${method.method}` });
    }
  }
  // A backup made elsewhere is only read, and holds data the harness did not seed: no synthetic data, no fault but its loss.
  if (method?.features?.includes('made-elsewhere')) {
    if (fault && !fault.module.requires?.backupFeatures?.includes('made-elsewhere')) {
      const fitting = FAULTS.filter((f) => (f as Fault).requires?.backupFeatures?.includes('made-elsewhere')).map((f) => f.type);
      problems.push({ path: 'fault.type', message: `${method.method} drills a backup made elsewhere, which is never damaged and whose database the drill never held: the fault is ${names(fitting)}` });
    }
    for (const key of ['dataset', 'workload', 'parts'] as const) {
      if (raw[key] !== undefined) problems.push({ path: key, message: `${method.method} restores the team's own data: nothing is seeded or written, so remove ${key}` });
    }
  }
  if (raw.rollback === true && fault && faultSpec && !(ROLLBACK_HARMS as readonly string[]).includes(fault.module.harm(faultSpec))) {
    problems.push({ path: 'rollback', message: `a rollback sets the struck instance's data folder aside while it runs; after ${fault.module.type} (${HARMS[fault.module.harm(faultSpec)]}) there is none to set aside: remove rollback, or strike with a fault that leaves the server running` });
  }
  if (fault?.module.requires?.dataVolume && section(raw, 'engine')?.dataVolume === undefined) {
    problems.push({ path: 'engine.dataVolume', message: `required: ${fault.module.type} fills a size-limited data folder; set a size such as 64m` });
  }
  if (fault && faultSpec && procedure && recoverySpec && procedure.procedure !== 'none') {
    const harm = fault.module.harm(faultSpec);
    const why = procedure.cannotHeal?.(recoverySpec, harm);
    if (!procedure.heals.includes(harm) || why) {
      const remedies = PROCEDURES.filter((p) => (p.heals as readonly string[]).includes(harm)).map((p) => p.procedure);
      problems.push({
        path: 'recovery.procedure',
        message: why ?? `${procedure.procedure} does not recover from ${fault.module.type} (${HARMS[harm]}); procedures that do: ${names(remedies)}, or none to show the damage`,
      });
    }
  }
  if (procedure && recoverySpec && procedure.needsRecoveryTarget?.(recoverySpec) && fault && !fault.module.marksRecoveryTarget) {
    const marking = FAULTS.filter((f) => (f as Fault).marksRecoveryTarget).map((f) => f.type);
    problems.push({
      path: 'recovery.target',
      message: `target ${String((recoverySpec as { target?: unknown }).target)} is the moment before a bad write: it needs fault type ${names(marking)} (or use target: end; for a backup made elsewhere, give the moment as recovery.at)`,
    });
  }
  const engine = section(raw, 'engine');
  const separate = engine?.restoreBinDir !== undefined || engine?.restoreImage !== undefined;
  if (separate && procedure && !procedure.requires?.separateTarget) {
    const able = PROCEDURES.filter((p) => (p as Procedure).requires?.separateTarget).map((p) => p.procedure);
    problems.push({ path: 'recovery.procedure', message: `${procedure.procedure} restores into the struck instance; a separate restore target (engine.restoreBinDir / restoreImage) needs ${names(able)}` });
  }
  const table = section(raw, 'recovery')?.table;
  if (procedure?.takesDamagedTable && table === undefined && fault && faultSpec && fault.module.damagedTable?.(faultSpec) === undefined) {
    const damaging = FAULTS.filter((f) => (f as Fault).damagedTable).map((f) => f.type);
    problems.push({
      path: 'recovery.table',
      message: `required: ${procedure.procedure} needs the table to restore when the fault is not ${damaging.join(' or ')}`,
    });
  }
  return problems;
}

/** Fills what the file left to the fault: the table a restore-table brings back. */
export function resolveDefaults<T extends { fault: { type: string }; recovery: { procedure: string; table?: string } }>(spec: T): T {
  const procedure = PROCEDURES.find((p) => p.procedure === spec.recovery.procedure) as Procedure | undefined;
  const fault = FAULTS.find((f) => f.type === spec.fault.type) as Fault | undefined;
  if (procedure?.takesDamagedTable && spec.recovery.table === undefined) {
    const damaged = fault?.damagedTable?.(spec.fault as never);
    if (damaged) return { ...spec, recovery: { ...spec.recovery, table: damaged } };
  }
  return spec;
}
