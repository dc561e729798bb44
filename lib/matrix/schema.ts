/**
 * Reads the tables of schema `app` from the app's migrations with the real PostgreSQL parser
 * (libpg-query). The matrix may name only these tables (plus the built-in `audit_log`).
 *
 * Understood statements: CREATE TABLE app.x (...), ALTER TABLE app.x ADD/DROP COLUMN, ALTER TABLE
 * app.x RENAME TO y, DROP TABLE app.x. Tables created inside DO blocks or functions are not seen.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageRoot } from '../engine/paths.js';
import { matrixModuleId } from './code-id.js';
import { listMigrations } from './migrations.js';

export { listMigrations };

export const APP_SCHEMA = 'app';

export interface ColumnInfo {
  name: string;
  /** the last part of the type name as PostgreSQL spells it (uuid, text, int4, timestamptz, ...) */
  type: string;
  notNull: boolean;
  hasDefault: boolean;
}

export interface TableInfo {
  name: string;
  columns: ColumnInfo[];
  primaryKey: string[];
}

export interface SchemaInfo {
  /** the tables of schema app (unqualified names) */
  tables: TableInfo[];
  /** every table the migrations create, in any schema, by schema-qualified name (app_private.sessions) */
  allTables?: TableInfo[];
}

let loaded: Promise<void> | undefined;
let parseSync: typeof import('libpg-query').parseSync;
/**
 * libpg-query is WebAssembly: load it once before the synchronous parser is used. Imported here, not
 * at the top: a schema read from the statement cache never loads it.
 *
 * Its module is compiled by V8's baseline compiler only (Liftoff): by default V8 also compiles the
 * whole 1 MB module with its optimising compiler in the background, and Node waits for that at exit
 * (about a second of a short command's wall time, and several hundred ms of CPU) for a parser that
 * reads a few files. The flag is restored once the module is compiled, so WebAssembly loaded later
 * in the same process (PGlite) is compiled as usual.
 */
export function loadSqlParser(): Promise<void> {
  loaded ??= (async () => {
    const v8 = await import('node:v8');
    v8.setFlagsFromString('--liftoff-only');
    try {
      const pg = await import('libpg-query');
      await pg.loadModule();
      parseSync = pg.parseSync;
    } finally {
      v8.setFlagsFromString('--no-liftoff-only');
    }
  })();
  return loaded;
}

export interface SchemaReadOptions {
  /**
   * A folder keeping each migration's schema statements by content (the app's
   * node_modules/.cache/xms-schema): a migration parsed once is not parsed again, in any process.
   * Only where the result goes into files the team reviews (xms compile, generators); xms check reads
   * nothing from the app's caches.
   */
  cacheDir?: string;
}

type Node = Record<string, any>;

function str(n: Node | undefined): string | undefined {
  return n?.String?.sval as string | undefined;
}

function columnFrom(def: Node): ColumnInfo {
  const names: string[] = (def.typeName?.names ?? []).map((n: Node) => str(n) ?? '');
  const type = names[names.length - 1] ?? '';
  const constraints: Node[] = (def.constraints ?? []).map((c: Node) => c.Constraint ?? {});
  const has = (t: string) => constraints.some((c) => c.contype === t);
  return {
    name: def.colname as string,
    type,
    notNull: has('CONSTR_NOTNULL') || has('CONSTR_PRIMARY'),
    hasDefault:
      has('CONSTR_DEFAULT') || has('CONSTR_IDENTITY') || has('CONSTR_GENERATED') || /^(small|big)?serial[248]?$/.test(type),
  };
}

function isPrimaryColumn(def: Node): boolean {
  return (def.constraints ?? []).some((c: Node) => c.Constraint?.contype === 'CONSTR_PRIMARY');
}

/**
 * What one migration does to the tables, in statement order: all the schema reader keeps of a parse
 * tree (and what the statement cache stores). `schema` is the relation's schema as written (absent:
 * unqualified).
 */
export type SchemaOp =
  | { op: 'create'; schema?: string; table: string; ifNotExists: boolean; columns: ColumnInfo[]; primaryKey: string[] }
  | { op: 'alter'; schema?: string; table: string; cmds: AlterCmd[] }
  | { op: 'rename-table'; schema?: string; table: string; to: string }
  | { op: 'rename-column'; schema?: string; table: string; column: string; to: string }
  | { op: 'drop'; names: string[][] };
export type AlterCmd =
  | { add: ColumnInfo }
  | { drop: string }
  | { setNotNull: string }
  | { dropNotNull: string };

/** The schema operations of a parse tree (CREATE/ALTER/DROP TABLE, renames); everything else is left out. */
export function schemaOps(tree: { stmts?: { stmt: Node }[] }): SchemaOp[] {
  const ops: SchemaOp[] = [];
  const where = (relation: Node | undefined) => (relation?.schemaname === undefined ? {} : { schema: relation.schemaname as string });
  for (const { stmt } of tree.stmts ?? []) {
    if (stmt.CreateStmt) {
      const s = stmt.CreateStmt;
      const columns: ColumnInfo[] = [];
      const primaryKey: string[] = [];
      for (const el of (s.tableElts ?? []) as Node[]) {
        if (el.ColumnDef) {
          columns.push(columnFrom(el.ColumnDef));
          if (isPrimaryColumn(el.ColumnDef)) primaryKey.push(el.ColumnDef.colname);
        } else if (el.Constraint?.contype === 'CONSTR_PRIMARY') {
          for (const k of el.Constraint.keys ?? []) primaryKey.push(str(k) ?? '');
        }
      }
      for (const c of columns) if (primaryKey.includes(c.name)) c.notNull = true;
      ops.push({ op: 'create', ...where(s.relation), table: s.relation?.relname, ifNotExists: Boolean(s.if_not_exists), columns, primaryKey });
    } else if (stmt.AlterTableStmt) {
      const s = stmt.AlterTableStmt;
      const cmds: AlterCmd[] = [];
      for (const c of (s.cmds ?? []) as Node[]) {
        const cmd = c.AlterTableCmd;
        if (!cmd) continue;
        if (cmd.subtype === 'AT_AddColumn' && cmd.def?.ColumnDef) cmds.push({ add: columnFrom(cmd.def.ColumnDef) });
        else if (cmd.subtype === 'AT_DropColumn') cmds.push({ drop: cmd.name });
        else if (cmd.subtype === 'AT_SetNotNull') cmds.push({ setNotNull: cmd.name });
        else if (cmd.subtype === 'AT_DropNotNull') cmds.push({ dropNotNull: cmd.name });
      }
      // ENABLE ROW LEVEL SECURITY, ADD CONSTRAINT, ...: nothing the reader models
      if (cmds.length) ops.push({ op: 'alter', ...where(s.relation), table: s.relation?.relname, cmds });
    } else if (stmt.RenameStmt) {
      const s = stmt.RenameStmt;
      if (s.relation?.relname === undefined) continue;
      if (s.renameType === 'OBJECT_TABLE') ops.push({ op: 'rename-table', ...where(s.relation), table: s.relation.relname, to: s.newname });
      else if (s.renameType === 'OBJECT_COLUMN') ops.push({ op: 'rename-column', ...where(s.relation), table: s.relation.relname, column: s.subname, to: s.newname });
    } else if (stmt.DropStmt) {
      const s = stmt.DropStmt;
      if (s.removeType !== 'OBJECT_TABLE') continue;
      ops.push({ op: 'drop', names: ((s.objects ?? []) as Node[]).map((obj) => (obj.List?.items ?? []).map((i: Node) => str(i) ?? '')) });
    }
  }
  return ops;
}

/** The key of a relation in a table map: its name in schema app (app-only maps), or schema.name. */
type KeyOf = (schemaName: string | undefined, name: string) => string | undefined;
const appKey: KeyOf = (schemaName, name) => (schemaName === APP_SCHEMA ? name : undefined);
const qualifiedKey: KeyOf = (schemaName, name) => `${schemaName ?? 'public'}.${name}`;

/** The app's statement cache (node_modules/.cache/xms-schema), when the app has node_modules. */
export function schemaCacheDir(appDir: string): string | undefined {
  return existsSync(join(appDir, 'node_modules')) ? join(appDir, 'node_modules', '.cache', 'xms-schema') : undefined;
}

/**
 * The package's own statement cache, `dist/schema-cache/` (written by `npm run build` for the
 * migrations of the built-in presets, so a new app's first `xms add` parses none of them), or
 * XMS_SCHEMA_CACHE_DIR at build time. Read like the package's code, by every reader.
 */
export function packageSchemaCacheDir(): string {
  return process.env.XMS_SCHEMA_CACHE_DIR || join(packageRoot(), 'dist', 'schema-cache');
}

/**
 * Schema operations by SQL text, for this process: `xms add table` reads the schema before planning
 * and the matrix compiler reads it again after the new migration is written; each file is parsed once.
 * The operations are only read (applyOps copies what it keeps).
 */
const parsed = new Map<string, SchemaOp[]>();

let statementsId: string | undefined;
/** What decides a cached entry: the parser's version and this module's code (schemaOps). */
function statementsVersion(): string {
  if (!statementsId) {
    const require = createRequire(import.meta.url);
    const parserPackage = join(dirname(require.resolve('libpg-query')), '..', 'package.json');
    statementsId = createHash('sha256').update(readFileSync(parserPackage)).update('\0').update(matrixModuleId('schema')).digest('hex');
  }
  return statementsId;
}

/** The entry name of an SQL text (the hash of its parser, reader and text), once per text: two folders are looked up. */
let lastEntry: { sql: string; name: string } | undefined;
function entryName(sql: string): string {
  if (lastEntry?.sql !== sql) lastEntry = { sql, name: `${createHash('sha256').update(statementsVersion()).update('\0').update(sql).digest('hex')}.json` };
  return lastEntry.name;
}
const entryFile = (dir: string, sql: string) => join(dir, entryName(sql));

function readEntry(dir: string | undefined, sql: string): SchemaOp[] | undefined {
  if (!dir) return undefined;
  try {
    const value = JSON.parse(readFileSync(entryFile(dir, sql), 'utf8')) as { ops?: unknown };
    return Array.isArray(value?.ops) ? (value.ops as SchemaOp[]) : undefined;
  } catch {
    return undefined; // a miss, or a torn file
  }
}

function writeEntry(dir: string | undefined, sql: string, ops: SchemaOp[]): void {
  if (!dir) return;
  try {
    mkdirSync(dir, { recursive: true });
    const file = entryFile(dir, sql);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ ops }));
    renameSync(tmp, file);
  } catch {
    // the cache is an optimisation only
  }
}

/** Where a new entry goes: the package's cache at build time, else the app's. */
const writeDir = (cacheDir: string | undefined) => (process.env.XMS_SCHEMA_CACHE_DIR ? packageSchemaCacheDir() : cacheDir);

/** The schema operations of one migration: from this process, the package's or the app's cache, else parsed. */
async function opsOf(sql: string, file: string, cacheDir: string | undefined): Promise<SchemaOp[]> {
  let ops = parsed.get(sql) ?? readEntry(packageSchemaCacheDir(), sql) ?? readEntry(cacheDir, sql);
  if (!ops) {
    await loadSqlParser();
    try {
      ops = schemaOps(parseSync(sql) as { stmts?: { stmt: Node }[] });
    } catch (err) {
      throw new Error(`${file}: cannot parse SQL: ${(err as Error).message}`);
    }
    writeEntry(writeDir(cacheDir), sql, ops);
  }
  parsed.set(sql, ops);
  return ops;
}

/**
 * Records the schema operations of SQL this package wrote itself and knows without parsing (a
 * generated table's migration, a compiled permissions migration), for this process and the app's
 * cache, under the key a parse of the same text would use. Only for text whose operations are
 * proven equal to the parser's by test (test/matrix/schema-known.test.ts): any other or edited text
 * has another key and is parsed.
 */
export function rememberSchemaOps(sql: string, ops: SchemaOp[], cacheDir: string | undefined): void {
  if (parsed.has(sql)) return;
  parsed.set(sql, ops);
  if (readEntry(cacheDir, sql) === undefined) writeEntry(writeDir(cacheDir), sql, ops);
}

/** Applies one migration's statements to the schema model. Throws with the file name on a parse error. */
export async function applySql(schema: Map<string, TableInfo>, sql: string, file = '<sql>', all?: Map<string, TableInfo>, cacheDir?: string): Promise<void> {
  const ops = await opsOf(sql, file, cacheDir);
  applyOps(schema, ops, appKey);
  if (all) applyOps(all, ops, qualifiedKey);
}

const copy = (c: ColumnInfo): ColumnInfo => ({ ...c });

function applyOps(schema: Map<string, TableInfo>, ops: SchemaOp[], keyOf: KeyOf): void {
  for (const op of ops) {
    if (op.op === 'drop') {
      for (const parts of op.names) {
        const key = parts.length === 2 ? keyOf(parts[0], parts[1]!) : parts.length === 1 ? keyOf(undefined, parts[0]!) : undefined;
        if (key !== undefined) schema.delete(key);
      }
      continue;
    }
    const key = keyOf(op.schema, op.table);
    if (key === undefined) continue;
    if (op.op === 'create') {
      if (op.ifNotExists && schema.has(key)) continue;
      schema.set(key, { name: key, columns: op.columns.map(copy), primaryKey: [...op.primaryKey] });
    } else if (op.op === 'alter') {
      const table = schema.get(key);
      if (!table) continue;
      for (const cmd of op.cmds) {
        if ('add' in cmd) {
          if (!table.columns.some((x) => x.name === cmd.add.name)) table.columns.push(copy(cmd.add));
        } else if ('drop' in cmd) {
          table.columns = table.columns.filter((x) => x.name !== cmd.drop);
        } else if ('setNotNull' in cmd) {
          const col = table.columns.find((x) => x.name === cmd.setNotNull);
          if (col) col.notNull = true;
        } else {
          const col = table.columns.find((x) => x.name === cmd.dropNotNull);
          if (col) col.notNull = false;
        }
      }
    } else if (op.op === 'rename-table') {
      const table = schema.get(key);
      if (table) {
        schema.delete(table.name);
        table.name = keyOf(op.schema, op.to)!;
        schema.set(table.name, table);
      }
    } else {
      const col = schema.get(key)?.columns.find((x) => x.name === op.column);
      if (col) col.name = op.to;
    }
  }
}

/** The tables of schema `app` after applying every migration of `dir` in version order. */
export async function readSchema(migrationsDir: string, options: SchemaReadOptions = {}): Promise<SchemaInfo> {
  return readSchemaFromFiles(listMigrations(migrationsDir).map((m) => ({ file: m.file, sql: readFileSync(m.file, 'utf8') })), options);
}

/** Same as readSchema, from migrations in version order that may not be on disk yet (a plan's). */
export async function readSchemaFromFiles(migrations: { file: string; sql: string }[], options: SchemaReadOptions = {}): Promise<SchemaInfo> {
  const tables = new Map<string, TableInfo>();
  const all = new Map<string, TableInfo>();
  for (const m of migrations) await applySql(tables, m.sql, m.file, all, options.cacheDir);
  return { tables: sorted(tables), allTables: sorted(all) };
}

/** Same as readSchema, from SQL texts (tests). */
export async function readSchemaFromSql(sqls: string[]): Promise<SchemaInfo> {
  const tables = new Map<string, TableInfo>();
  const all = new Map<string, TableInfo>();
  for (const [i, sql] of sqls.entries()) await applySql(tables, sql, `<sql ${i}>`, all);
  return { tables: sorted(tables), allTables: sorted(all) };
}

/** The schema operations of SQL text, parsed now (tests compare what a generator knows with this). */
export async function parseSchemaOps(sql: string): Promise<SchemaOp[]> {
  await loadSqlParser();
  return schemaOps(parseSync(sql) as { stmts?: { stmt: Node }[] });
}

function sorted(tables: Map<string, TableInfo>): TableInfo[] {
  return [...tables.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}
