import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { UserError } from '../../lib/engine/errors.js';
import { insertAtMarker, readProjectFile } from '../../lib/engine/changes.js';
import { listMigrations } from '../../lib/matrix/migrations.js';
import { MIGRATIONS_DIR, MATRIX_FILE, nextVersion } from '../../lib/matrix/write.js';
import type { Answers, FeatureGenerator, FileChange } from '../types.js';

/** yaml is loaded on first use: scaffolding imports this module for tableApiChanges only. */
const yaml = (): typeof import('yaml') => createRequire(import.meta.url)('yaml');

/** permissions.yml parsed once per content (the roles and the tables are both read from it). */
let lastMatrix: { source: string; doc: ReturnType<typeof import('yaml').parseDocument> } | undefined;
function matrixDocument(source: string) {
  if (lastMatrix?.source !== source) lastMatrix = { source, doc: yaml().parseDocument(source) };
  return lastMatrix.doc;
}
import { COLUMN_TYPES, assertIdentifier, camel, formatColumns, identifierProblem, parseColumns, renderTemplate, type Column } from './spec.js';
import { harnessChanges, recompileMatrix } from './shared.js';

export const API_INDEX = 'src/routes/api/index.ts';
export const API_IMPORTS_MARKER = '// xms:api-imports';
export const API_ROUTES_MARKER = '// xms:api-routes';
export const MATRIX_MARKER = '# xms:tables';
/** Tables the generator must never create: the base ones and the import ledger. */
const BUILTIN_TABLES = ['tenants', 'users', 'memberships', 'records', 'audit_log', 'imports', 'sessions', 'credentials', 'admin_operations'];
/** Names whose /api/<name> routes the app already has. */
const RESERVED_ROUTES = ['me', 'auth', 'admin', 'exports', 'health'];

/** `<version>_xms_table_<name>.sql`: the migration of a generated table (the second run finds it by name). */
export function findTableMigration(appDir: string, table: string) {
  return listMigrations(join(appDir, MIGRATIONS_DIR)).find((m) => m.name === `xms_table_${table}`);
}

/** The column spec recorded in a generated table's migration header. */
export function recordedColumns(sql: string): string | undefined {
  return /^-- columns: (.*)$/m.exec(sql)?.[1]?.trim();
}

export function assertApp(appDir: string): void {
  if (!existsSync(join(appDir, MATRIX_FILE)) || !existsSync(join(appDir, MIGRATIONS_DIR))) {
    throw new UserError(`${appDir} is not an xms app (no ${MATRIX_FILE} or ${MIGRATIONS_DIR}); run this inside an app made by create-xms-app.`);
  }
}

/** Adds `name: { admin: tenant }` under the matrix's tables (nothing when the table is there already). */
export function matrixChange(appDir: string, table: string, entry: string): FileChange {
  const before = readProjectFile(appDir, MATRIX_FILE)!;
  const tables = matrixDocument(before).get('tables');
  const { isMap } = yaml();
  if (isMap(tables) && tables.has(table)) return { path: MATRIX_FILE, before, after: before };
  return { path: MATRIX_FILE, before, after: insertAtMarker(before, MATRIX_FILE, MATRIX_MARKER, entry) };
}

/** The roles declared in the app's permissions.yml. */
export function matrixRoles(appDir: string): string[] {
  const roles = matrixDocument(readProjectFile(appDir, MATRIX_FILE) ?? '').get('roles');
  const { isMap } = yaml();
  return isMap(roles) ? roles.items.map((pair) => String((pair.key as { value?: unknown } | null)?.value ?? pair.key)) : [];
}

/** Registers a route module in the protected API index, through its two markers. */
export function apiIndexChange(appDir: string, importLine: string, registerLine: string): FileChange {
  const before = readProjectFile(appDir, API_INDEX);
  if (before === undefined) throw new UserError(`${API_INDEX} not found; this generator registers its routes there.`);
  let after = insertAtMarker(before, API_INDEX, API_IMPORTS_MARKER, importLine);
  after = insertAtMarker(after, API_INDEX, API_ROUTES_MARKER, registerLine);
  return { path: API_INDEX, before, after };
}

/** A JSON value as a TypeScript literal in the style of the app's code (single quotes, bare keys). */
export function jsLiteral(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jsLiteral).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{ ${Object.entries(value).map(([k, v]) => `${/^[a-zA-Z_]\w*$/.test(k) ? k : `'${k}'`}: ${jsLiteral(v)}`).join(', ')} }`;
  }
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return String(value);
}

/** A SQL expression of `g` (generate_series) per column type, distinct for each g where the type allows. */
const SERIES_SQL: Record<string, string> = {
  text: `'sample-' || g`,
  int: 'g',
  bigint: 'g::bigint',
  numeric: 'g::numeric / 100',
  boolean: 'g % 2 = 0',
  date: `date '2024-01-01' + g`,
  timestamptz: `timestamptz '2024-01-01T00:00:00Z' + g * interval '1 minute'`,
  uuid: 'gen_random_uuid()',
};

export function columnContext(columns: Column[]) {
  return columns.map((c) => {
    const type = COLUMN_TYPES[c.type]!;
    const json = { ...type.json, ...(c.nullable ? { type: [type.json.type as string, 'null'] } : {}) };
    return {
      ...c,
      sqlType: type.sql,
      csvType: type.csv,
      jsonSchema: jsLiteral(json),
      sample: jsLiteral(type.sample),
      seriesSql: SERIES_SQL[c.type] ?? 'null',
      notNull: !c.nullable,
    };
  });
}

function tableContext(table: string, columns: Column[]) {
  return {
    table,
    spec: formatColumns(columns),
    camel: camel(table),
    columns: columnContext(columns),
    required: jsLiteral(columns.filter((c) => !c.nullable).map((c) => c.name)),
    columnNames: jsLiteral(columns.map((c) => c.name)),
    searchColumns: jsLiteral(columns.filter((c) => c.type === 'text').map((c) => c.name)),
    // the paging test writes 1,000+ rows: impossible with a unique boolean column
    manyRows: !columns.some((c) => c.unique && c.type === 'boolean'),
  };
}

/**
 * The API half of a table: validated routes in the protected scope, their HTTP test, the test harness
 * and the registration in src/routes/api/index.ts. The app generator uses it for the built-in
 * `records` table, so every app starts with the same routes a generated table gets.
 * With `keepExisting`, files a first run wrote are left as they are (the user may have edited them).
 */
export function tableApiChanges(appDir: string, table: string, columns: Column[], options: { keepExisting?: boolean } = {}): FileChange[] {
  const context = tableContext(table, columns);
  const keepOrWrite = (path: string, template: string): FileChange => {
    const before = readProjectFile(appDir, path);
    if (options.keepExisting && before !== undefined) return { path, before, after: before };
    return { path, before, after: renderTemplate('table', template, context) };
  };
  return [
    keepOrWrite(`src/routes/api/${table}.ts`, 'routes.ts.hbs'),
    keepOrWrite(`test/tables/${table}.test.ts`, 'routes.test.ts.hbs'),
    ...harnessChanges(appDir),
    apiIndexChange(appDir, `import { ${context.camel}Routes } from './${table}.js';`, `await app.register(${context.camel}Routes);`),
  ];
}

const generator: FeatureGenerator = {
  name: 'table',
  description:
    'A tenant-scoped table in schema app: migration (RLS enabled and forced, audit tracking, indexes), an entry in ' +
    'permissions.yml (admin only until you edit it), validated list/get/create/update/delete routes in the protected ' +
    'scope, and their tests.',
  questions: [
    { name: 'name', message: 'Table name (snake_case, plural):', type: 'input', validate: (v) => identifierProblem(v, 'table name') },
    {
      name: 'columns',
      message: 'Columns (name:type[:unique][?], e.g. sku:text:unique,qty:int,notes:text?):',
      type: 'input',
      validate: (v) => {
        try {
          parseColumns(v);
          return true;
        } catch (error) {
          return (error as Error).message.replace(/^--columns: /, '');
        }
      },
    },
  ],

  async plan(appDir: string, answers: Answers): Promise<FileChange[]> {
    const table = String(answers.name ?? '');
    assertIdentifier(table, 'table name', 'name');
    const columns = parseColumns(String(answers.columns ?? ''));
    assertApp(appDir);
    if (BUILTIN_TABLES.includes(table)) throw new UserError(`--name: "${table}" is a built-in table of every xms app; choose another name.`);
    if (RESERVED_ROUTES.includes(table)) throw new UserError(`--name: "${table}" would collide with the app's /api/${table} routes; choose another name.`);

    const existing = findTableMigration(appDir, table);
    const spec = formatColumns(columns);
    let migrationPath: string;
    if (existing) {
      const recorded = recordedColumns(readFileSync(existing.file, 'utf8'));
      if (recorded !== spec) {
        throw new UserError(
          `table "${table}" was already generated with columns "${recorded}"; refusing to change it. Write a new migration to alter it.`,
        );
      }
      migrationPath = join(MIGRATIONS_DIR, `${existing.version}_xms_table_${table}.sql`);
    } else {
      // the SQL parser is loaded here, not at import: scaffolding uses this module without it
      const { readSchema } = await import('../../lib/matrix/schema.js');
      const schema = await readSchema(join(appDir, MIGRATIONS_DIR));
      if (schema.tables.some((t) => t.name === table)) {
        throw new UserError(`--name: table app.${table} already exists in supabase/migrations; choose another name.`);
      }
      const versions = listMigrations(join(appDir, MIGRATIONS_DIR)).map((m) => m.version);
      migrationPath = join(MIGRATIONS_DIR, `${nextVersion(versions)}_xms_table_${table}.sql`);
    }

    const file = (path: string, after: string): FileChange => ({ path, before: readProjectFile(appDir, path), after });
    return [
      // an existing migration may already be applied: it is never rewritten
      existing
        ? { path: migrationPath, before: readFileSync(existing.file, 'utf8'), after: readFileSync(existing.file, 'utf8') }
        : file(migrationPath, renderTemplate('table', 'migration.sql.hbs', tableContext(table, columns))),
      ...tableApiChanges(appDir, table, columns, { keepExisting: Boolean(existing) }),
      matrixChange(
        appDir,
        table,
        matrixRoles(appDir).includes('admin') ? `${table}:\n  admin: tenant` : `${table}: # no role may use it until you add one`,
      ),
    ];
  },

  async after(appDir: string): Promise<string[]> {
    return recompileMatrix(appDir);
  },
};

export default generator;
