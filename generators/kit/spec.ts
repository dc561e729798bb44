/**
 * Shared by the `table`, `csv-import` and `admin-function` generators: identifier rules, the column
 * spec (`name:type[:unique][?]`), the types a generated table may use and how each maps to SQL, to a
 * Fastify JSON schema and to the CSV importer's validators.
 */
import { UserError } from '../../lib/engine/errors.js';

/** PostgreSQL's reserved key words (Appendix C) plus the statement verbs nobody should name a column after. */
export const SQL_KEYWORDS = new Set(
  (
    'all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation ' +
    'column concurrently constraint create cross current_catalog current_date current_role current_schema current_time ' +
    'current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign freeze ' +
    'from full grant group having ilike in initially inner intersect into is isnull join lateral leading left like limit ' +
    'localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing primary references ' +
    'returning right select session_user similar some symmetric system_user table tablesample then to trailing true ' +
    'union unique user using variadic verbose when where window with ' +
    'alter begin commit delete drop insert rollback set truncate update values index view trigger function schema role ' +
    'type sequence database between bigint bit boolean char character coalesce dec decimal exists extract float greatest ' +
    'grouping int integer interval least national nchar none normalize nullif numeric overlay position precision real ' +
    'row setof smallint substring time timestamp treat trim varchar xmlattributes'
  ).split(/\s+/),
);

/** Columns every generated table has (mirroring app.records); a spec may not declare them. */
export const RESERVED_COLUMNS = ['id', 'tenant_id', 'owner_id', 'created_at', 'updated_at', 'content_hash', 'user_id', 'created_by'];

const IDENTIFIER = /^[a-z][a-z0-9_]{0,62}$/;

/** One-line reason why `value` is not a usable SQL identifier, or true. */
export function identifierProblem(value: string, what: string): true | string {
  if (!IDENTIFIER.test(value)) {
    return `invalid ${what} "${value}": use lower-case letters, digits and _, starting with a letter (at most 63 characters).`;
  }
  if (SQL_KEYWORDS.has(value)) return `invalid ${what} "${value}": it is an SQL keyword; choose another name.`;
  if (value.startsWith('xms_') || value.startsWith('pg_')) return `invalid ${what} "${value}": the prefixes xms_ and pg_ are reserved.`;
  return true;
}

export function assertIdentifier(value: string, what: string, flag: string): void {
  const verdict = identifierProblem(value, what);
  if (verdict !== true) throw new UserError(`--${flag}: ${verdict}`);
}

export interface ColumnType {
  sql: string;
  /** Fastify (JSON schema) fragment for a request body property */
  json: Record<string, unknown>;
  /** the importer's validator kind (src/imports/types.ts in the app) */
  csv: 'text' | 'int' | 'bigint' | 'numeric' | 'boolean' | 'date' | 'timestamptz' | 'uuid';
  /** PostgreSQL's own name, as libpg-query reports it */
  pg: string;
  /** a sample value for generated tests */
  sample: string | number | boolean;
}

export const COLUMN_TYPES: Record<string, ColumnType> = {
  text: { sql: 'text', json: { type: 'string', maxLength: 10000 }, csv: 'text', pg: 'text', sample: 'sample' },
  int: { sql: 'integer', json: { type: 'integer', minimum: -2147483648, maximum: 2147483647 }, csv: 'int', pg: 'int4', sample: 7 },
  bigint: { sql: 'bigint', json: { type: 'string', pattern: '^-?[0-9]{1,18}$' }, csv: 'bigint', pg: 'int8', sample: '42' },
  numeric: { sql: 'numeric', json: { type: 'string', pattern: '^-?[0-9]{1,30}(\\.[0-9]{1,30})?$' }, csv: 'numeric', pg: 'numeric', sample: '1.50' },
  boolean: { sql: 'boolean', json: { type: 'boolean' }, csv: 'boolean', pg: 'bool', sample: true },
  date: { sql: 'date', json: { type: 'string', format: 'date' }, csv: 'date', pg: 'date', sample: '2024-01-31' },
  timestamptz: { sql: 'timestamptz', json: { type: 'string', format: 'date-time' }, csv: 'timestamptz', pg: 'timestamptz', sample: '2024-01-31T12:00:00Z' },
  uuid: { sql: 'uuid', json: { type: 'string', format: 'uuid' }, csv: 'uuid', pg: 'uuid', sample: '00000000-0000-4000-8000-000000000001' },
};
const TYPE_ALIASES: Record<string, string> = { integer: 'int', int4: 'int', int8: 'bigint', bool: 'boolean', decimal: 'numeric', string: 'text' };

export interface Column {
  name: string;
  type: string;
  nullable: boolean;
  unique: boolean;
}

/** `sku:text:unique,qty:int,notes:text?` -> columns; every problem is a one-line UserError naming --columns. */
export function parseColumns(spec: string, flag = 'columns'): Column[] {
  const columns: Column[] = [];
  const parts = spec.split(',').map((part) => part.trim());
  if (spec.trim() === '' || parts.some((part) => part === '')) {
    throw new UserError(`--${flag}: expected name:type[:unique][?] separated by commas, e.g. "sku:text:unique,qty:int,notes:text?".`);
  }
  for (const part of parts) {
    let text = part;
    let nullable = false;
    if (text.endsWith('?')) {
      nullable = true;
      text = text.slice(0, -1);
    }
    const [name = '', rawType = '', ...flags] = text.split(':').map((s) => s.trim());
    if (!rawType) throw new UserError(`--${flag}: column "${part}" has no type (expected name:type, e.g. qty:int).`);
    const nameProblem = identifierProblem(name, 'column name');
    if (nameProblem !== true) throw new UserError(`--${flag}: ${nameProblem}`);
    if (RESERVED_COLUMNS.includes(name)) {
      throw new UserError(`--${flag}: column "${name}" is reserved (every table has ${RESERVED_COLUMNS.slice(0, 5).join(', ')}).`);
    }
    let typeName = rawType.toLowerCase();
    if (typeName.endsWith('?')) {
      nullable = true;
      typeName = typeName.slice(0, -1);
    }
    typeName = TYPE_ALIASES[typeName] ?? typeName;
    if (!COLUMN_TYPES[typeName]) {
      throw new UserError(`--${flag}: unknown type "${rawType}" for column "${name}" (expected one of ${Object.keys(COLUMN_TYPES).join(', ')}).`);
    }
    let unique = false;
    for (const f of flags) {
      if (f === 'unique') unique = true;
      else throw new UserError(`--${flag}: unknown option "${f}" for column "${name}" (expected unique, or ? after the type for nullable).`);
    }
    if (columns.some((c) => c.name === name)) throw new UserError(`--${flag}: column "${name}" is declared twice.`);
    columns.push({ name, type: typeName, nullable, unique });
  }
  return columns;
}

/** The canonical spec text (stored in the migration header; the second run compares it). */
export function formatColumns(columns: Column[]): string {
  return columns.map((c) => `${c.name}:${c.type}${c.unique ? ':unique' : ''}${c.nullable ? '?' : ''}`).join(',');
}

export function camel(value: string): string {
  return value.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
