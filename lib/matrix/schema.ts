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
import { fileURLToPath } from 'node:url';
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
 */
export function loadSqlParser(): Promise<void> {
  loaded ??= import('libpg-query').then(async (pg) => {
    await pg.loadModule();
    parseSync = pg.parseSync;
  });
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

/** Migration files (`<version>_<name>.sql`) of a folder, in version order. */
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

/** The key of a relation in a table map: its name in schema app (app-only maps), or schema.name. */
type KeyOf = (schemaName: string | undefined, name: string) => string | undefined;
const appKey: KeyOf = (schemaName, name) => (schemaName === APP_SCHEMA ? name : undefined);
const qualifiedKey: KeyOf = (schemaName, name) => `${schemaName ?? 'public'}.${name}`;

type ParseTree = { stmts?: { stmt: Node }[] };
/** The app's statement cache (node_modules/.cache/xms-schema), when the app has node_modules. */
export function schemaCacheDir(appDir: string): string | undefined {
  return existsSync(join(appDir, 'node_modules')) ? join(appDir, 'node_modules', '.cache', 'xms-schema') : undefined;
}

/** The statements applyTree reads; the rest of a parse tree is dropped before it is kept. */
const SCHEMA_STATEMENTS = ['CreateStmt', 'AlterTableStmt', 'RenameStmt', 'DropStmt'];
const schemaStatements = (tree: ParseTree): ParseTree => ({
  stmts: (tree.stmts ?? []).filter(({ stmt }) => SCHEMA_STATEMENTS.some((kind) => kind in stmt)).map(({ stmt }) => ({ stmt })),
});

/**
 * Schema statements by SQL text, for this process: `xms add table` reads the schema before planning
 * and the matrix compiler reads it again after the new migration is written; each file is parsed once.
 * The trees are only read (applyTree builds new objects).
 */
const parsed = new Map<string, ParseTree>();

let statementsId: string | undefined;
/** What decides a cached entry: the parser's version and this module's code (the statement filter). */
function statementsVersion(): string {
  if (!statementsId) {
    const require = createRequire(import.meta.url);
    const parserPackage = join(dirname(require.resolve('libpg-query')), '..', 'package.json');
    statementsId = createHash('sha256').update(readFileSync(parserPackage)).update('\0').update(readFileSync(fileURLToPath(import.meta.url))).digest('hex');
  }
  return statementsId;
}

const entryFile = (dir: string, sql: string) => join(dir, `${createHash('sha256').update(statementsVersion()).update('\0').update(sql).digest('hex')}.json`);

function readEntry(dir: string | undefined, sql: string): ParseTree | undefined {
  if (!dir) return undefined;
  try {
    const value = JSON.parse(readFileSync(entryFile(dir, sql), 'utf8')) as ParseTree;
    return Array.isArray(value?.stmts) ? value : undefined;
  } catch {
    return undefined; // a miss, or a torn file
  }
}

function writeEntry(dir: string | undefined, sql: string, tree: ParseTree): void {
  if (!dir) return;
  try {
    mkdirSync(dir, { recursive: true });
    const file = entryFile(dir, sql);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(tree));
    renameSync(tmp, file);
  } catch {
    // the cache is an optimisation only
  }
}

/** The schema statements of one migration: from this process, the cache folder, else parsed. */
async function statementsOf(sql: string, file: string, cacheDir: string | undefined): Promise<ParseTree> {
  let tree = parsed.get(sql) ?? readEntry(cacheDir, sql);
  if (!tree) {
    await loadSqlParser();
    try {
      tree = schemaStatements(parseSync(sql) as ParseTree);
    } catch (err) {
      throw new Error(`${file}: cannot parse SQL: ${(err as Error).message}`);
    }
    writeEntry(cacheDir, sql, tree);
  }
  parsed.set(sql, tree);
  return tree;
}

/** Applies one migration's statements to the schema model. Throws with the file name on a parse error. */
export async function applySql(schema: Map<string, TableInfo>, sql: string, file = '<sql>', all?: Map<string, TableInfo>, cacheDir?: string): Promise<void> {
  const tree = await statementsOf(sql, file, cacheDir);
  applyTree(schema, tree, appKey);
  if (all) applyTree(all, tree, qualifiedKey);
}

function applyTree(schema: Map<string, TableInfo>, tree: { stmts?: { stmt: Node }[] }, keyOf: KeyOf): void {
  for (const { stmt } of tree.stmts ?? []) {
    if (stmt.CreateStmt) {
      const s = stmt.CreateStmt;
      const name = keyOf(s.relation?.schemaname, s.relation?.relname);
      if (name === undefined) continue;
      if (s.if_not_exists && schema.has(name)) continue;
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
      schema.set(name, { name, columns, primaryKey });
    } else if (stmt.AlterTableStmt) {
      const s = stmt.AlterTableStmt;
      const key = keyOf(s.relation?.schemaname, s.relation?.relname);
      const table = key === undefined ? undefined : schema.get(key);
      if (!table) continue;
      for (const c of (s.cmds ?? []) as Node[]) {
        const cmd = c.AlterTableCmd;
        if (!cmd) continue;
        if (cmd.subtype === 'AT_AddColumn' && cmd.def?.ColumnDef) {
          const col = columnFrom(cmd.def.ColumnDef);
          if (!table.columns.some((x) => x.name === col.name)) table.columns.push(col);
        } else if (cmd.subtype === 'AT_DropColumn') {
          table.columns = table.columns.filter((x) => x.name !== cmd.name);
        } else if (cmd.subtype === 'AT_SetNotNull') {
          const col = table.columns.find((x) => x.name === cmd.name);
          if (col) col.notNull = true;
        } else if (cmd.subtype === 'AT_DropNotNull') {
          const col = table.columns.find((x) => x.name === cmd.name);
          if (col) col.notNull = false;
        }
      }
    } else if (stmt.RenameStmt) {
      const s = stmt.RenameStmt;
      const key = keyOf(s.relation?.schemaname, s.relation?.relname);
      if (key === undefined) continue;
      if (s.renameType === 'OBJECT_TABLE') {
        const table = schema.get(key);
        if (table) {
          schema.delete(table.name);
          table.name = keyOf(s.relation.schemaname, s.newname)!;
          schema.set(table.name, table);
        }
      } else if (s.renameType === 'OBJECT_COLUMN') {
        const col = schema.get(key)?.columns.find((x) => x.name === s.subname);
        if (col) col.name = s.newname;
      }
    } else if (stmt.DropStmt) {
      const s = stmt.DropStmt;
      if (s.removeType !== 'OBJECT_TABLE') continue;
      for (const obj of (s.objects ?? []) as Node[]) {
        const parts: string[] = (obj.List?.items ?? []).map((i: Node) => str(i) ?? '');
        const key = parts.length === 2 ? keyOf(parts[0], parts[1]!) : parts.length === 1 ? keyOf(undefined, parts[0]!) : undefined;
        if (key !== undefined) schema.delete(key);
      }
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

function sorted(tables: Map<string, TableInfo>): TableInfo[] {
  return [...tables.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}
