/**
 * Choosing what to restore from a custom-format archive's table of contents.
 * `pg_restore --table` alone restores a table and its rows but none of its
 * indexes, constraints, identity sequence or the foreign keys that point at
 * it; the runbooks' one-line table restore silently loses them. We read the
 * archive's schema script to find every entry that belongs to the table.
 */

/** One object in the archive, as `pg_restore --schema-only` introduces it. */
export interface ArchiveEntry {
  name: string;
  type: string;
  schema: string;
  sql: string;
}

const HEADER = /^-- Name: (.*); Type: (.*); Schema: (.*); Owner: (.*)$/gm;

export function parseSchemaScript(script: string): ArchiveEntry[] {
  const headers = [...script.matchAll(HEADER)];
  return headers.map((match, i) => {
    const start = match.index! + match[0].length;
    const end = headers[i + 1]?.index ?? script.length;
    return { name: match[1]!, type: match[2]!, schema: match[3]!, sql: script.slice(start, end) };
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The TOC prefixes (`<type> <schema> <name> `) of everything that belongs to
 * the table: its definition and data, its own constraints, defaults, triggers
 * and comments, its indexes, its identity or serial sequences and their
 * values, and the foreign keys of other tables that reference it.
 */
export function tablePrefixes(entries: readonly ArchiveEntry[], schema: string, table: string): string[] {
  const qualified = `${schema}.${table}`;
  const onTable = new RegExp(`\\bON (ONLY )?${escapeRegExp(qualified)}\\b`);
  const references = new RegExp(`REFERENCES ${escapeRegExp(qualified)}\\(`);
  const ownsSequence = new RegExp(`(ALTER TABLE (ONLY )?${escapeRegExp(qualified)} |OWNED BY ${escapeRegExp(qualified)}\\.)`);
  const prefixes = new Set([`TABLE ${schema} ${table} `, `TABLE DATA ${schema} ${table} `]);
  for (const entry of entries) {
    const own = entry.name.startsWith(`${table} `) || entry.name.startsWith(`TABLE ${table}`) || entry.name.startsWith(`COLUMN ${table}.`);
    const belongs =
      (own && ['CONSTRAINT', 'FK CONSTRAINT', 'DEFAULT', 'TRIGGER', 'POLICY', 'RULE', 'COMMENT'].includes(entry.type)) ||
      (['INDEX', 'TRIGGER'].includes(entry.type) && onTable.test(entry.sql)) ||
      (entry.type === 'FK CONSTRAINT' && references.test(entry.sql)) ||
      (['SEQUENCE', 'SEQUENCE OWNED BY'].includes(entry.type) && ownsSequence.test(entry.sql));
    if (!belongs) continue;
    prefixes.add(`${entry.type} ${entry.schema} ${entry.name} `);
    // A serial column's sequence is created apart (CREATE SEQUENCE), and only its OWNED BY names the table: both come, and its value.
    if (entry.type === 'SEQUENCE' || entry.type === 'SEQUENCE OWNED BY') {
      prefixes.add(`SEQUENCE ${entry.schema} ${entry.name} `);
      prefixes.add(`SEQUENCE SET ${entry.schema} ${entry.name} `);
    }
  }
  return [...prefixes];
}

/**
 * The foreign keys that join the table to another one, its own and the ones
 * of other tables that reference it: in a database that holds only this
 * table they cannot be made. A key that references its own table stays.
 */
export function foreignKeysOfOthers(entries: readonly ArchiveEntry[], schema: string, table: string): ArchiveEntry[] {
  const qualified = `${schema}.${table}`;
  return entries.filter((entry) => {
    if (entry.type !== 'FK CONSTRAINT') return false;
    const owner = /ALTER TABLE (?:ONLY )?(\S+)/.exec(entry.sql)?.[1];
    const target = /REFERENCES (\S+?)\(/.exec(entry.sql)?.[1];
    return (owner === qualified || target === qualified) && owner !== target;
  });
}

/** Keeps the lines of a `pg_restore --list` output whose entry starts with one of the prefixes. */
export function selectList(list: string, prefixes: readonly string[]): { list: string; selected: string[] } {
  const selected: string[] = [];
  const kept = list.split('\n').filter((line) => {
    const entry = /^\d+; \d+ \d+ (.*)$/.exec(line)?.[1];
    if (!entry || !prefixes.some((p) => `${entry} `.startsWith(p))) return false;
    selected.push(entry);
    return true;
  });
  return { list: `${kept.join('\n')}\n`, selected };
}

/** Whether the archive was taken from a database with the timescaledb extension. */
export function hasTimescale(list: string): boolean {
  return /^\d+; \d+ \d+ EXTENSION - timescaledb /m.test(list);
}
