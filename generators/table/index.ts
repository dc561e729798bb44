import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../lib/engine/errors.js';
import { readProjectFile } from '../../lib/engine/changes.js';
import { listMigrations, migrationFileName, newMigrationFileName } from '../../lib/matrix/migrations.js';
import { MIGRATIONS_DIR } from '../../lib/matrix/write.js';
import type { Answers, FeatureGenerator, FileChange, Plan } from '../types.js';
import type { SchemaOp } from '../../lib/matrix/schema.js';
import { COLUMN_TYPES, assertIdentifier, formatColumns, identifierProblem, parseColumns, type Column } from '../kit/spec.js';
import { forkHasTemplate, forkOf, renderTemplate } from '../kit/templates.js';
import { assertApp, matrixChange, matrixRoles, withCompiledMatrix } from '../kit/app.js';
import { tableApiChanges, tableContext } from '../kit/table-api.js';

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

/**
 * What the SQL parser reads from the built-in migration template (templates/table/migration.sql.hbs)
 * for this table: its one CREATE TABLE (ALTER TABLE ... ROW LEVEL SECURITY changes no column). Known
 * from the column spec, so adding a table does not load the parser (WebAssembly, most of the command's
 * time); test/generators/table-schema-ops.test.ts proves it equal to the parser's reading of the
 * rendered template for every column type, nullable and unique.
 */
export function tableMigrationOps(table: string, columns: Column[]): SchemaOp[] {
  const column = (name: string, type: string, notNull: boolean, hasDefault: boolean) => ({ name, type, notNull, hasDefault });
  return [
    {
      op: 'create',
      schema: 'app',
      table,
      ifNotExists: true,
      primaryKey: ['id'],
      columns: [
        column('id', 'uuid', true, true),
        column('tenant_id', 'uuid', true, true),
        column('owner_id', 'uuid', true, true),
        ...columns.map((c) => column(c.name, COLUMN_TYPES[c.type]!.pg, !c.nullable, false)),
        column('created_at', 'timestamptz', true, true),
        column('updated_at', 'timestamptz', true, true),
      ],
    },
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

  async plan(appDir: string, answers: Answers): Promise<Plan> {
    const table = String(answers.name ?? '');
    assertIdentifier(table, 'table name', 'name');
    const columns = parseColumns(String(answers.columns ?? ''));
    assertApp(appDir);
    const fork = await forkOf(appDir);
    if (BUILTIN_TABLES.includes(table)) throw new UserError(`--name: "${table}" is a built-in table of every xms app; choose another name.`);
    if (RESERVED_ROUTES.includes(table)) throw new UserError(`--name: "${table}" would collide with the app's /api/${table} routes; choose another name.`);

    const existing = findTableMigration(appDir, table);
    const spec = formatColumns(columns);
    let migrationPath: string;
    // the SQL parser is loaded only for a migration no cache knows: scaffolding uses this module without it
    const { readSchema, rememberSchemaOps, schemaCacheDir } = await import('../../lib/matrix/schema.js');
    if (existing) {
      const recorded = recordedColumns(readFileSync(existing.file, 'utf8'));
      if (recorded !== spec) {
        throw new UserError(
          `table "${table}" was already generated with columns "${recorded}"; refusing to change it. Write a new migration to alter it.`,
        );
      }
      migrationPath = join(MIGRATIONS_DIR, migrationFileName(existing.version, `xms_table_${table}`));
    } else {
      const schema = await readSchema(join(appDir, MIGRATIONS_DIR), { cacheDir: schemaCacheDir(appDir) });
      if (schema.tables.some((t) => t.name === table)) {
        throw new UserError(`--name: table app.${table} already exists in supabase/migrations; choose another name.`);
      }
      migrationPath = join(MIGRATIONS_DIR, newMigrationFileName(listMigrations(join(appDir, MIGRATIONS_DIR)), `xms_table_${table}`));
    }

    const file = (path: string, after: string): FileChange => ({ path, before: readProjectFile(appDir, path), after });
    let migration: string;
    if (existing) {
      migration = readFileSync(existing.file, 'utf8');
    } else {
      migration = renderTemplate('table', 'migration.sql.hbs', tableContext(table, columns), fork);
      // the built-in template's text: its schema is known (a fork's template is parsed like any SQL)
      if (!forkHasTemplate(fork, 'table', 'migration.sql.hbs')) rememberSchemaOps(migration, tableMigrationOps(table, columns), schemaCacheDir(appDir));
    }
    const changes: FileChange[] = [
      // an existing migration may already be applied: it is never rewritten
      existing ? { path: migrationPath, before: migration, after: migration } : file(migrationPath, migration),
      ...tableApiChanges(appDir, table, columns, { keepExisting: Boolean(existing), fork }),
      await matrixChange(
        appDir,
        table,
        (await matrixRoles(appDir)).includes('admin') ? `${table}:\n  admin: tenant` : `${table}: # no role may use it until you add one`,
      ),
    ];
    return { changes: await withCompiledMatrix(appDir, changes) };
  },
};

export default generator;
