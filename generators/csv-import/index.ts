import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../lib/engine/errors.js';
import { insertAtMarker, readProjectFile } from '../../lib/engine/changes.js';
import { listMigrations, migrationFileName, readSchema, schemaCacheDir, MIGRATIONS_DIR, newMigrationFileName } from '../../lib/matrix/index.js';
import type { Answers, FeatureGenerator, FileChange, Plan } from '../types.js';
import { COLUMN_TYPES, assertIdentifier, camel, identifierProblem } from '../kit/spec.js';
import { appTemplateFile, appTemplateFiles, forkOf, renderTemplate } from '../kit/templates.js';
import { apiIndexChange, assertApp, matrixChange, matrixRoles, withCompiledMatrix } from '../kit/app.js';
import { appVersion } from '../../lib/app/index.js';

const FEATURE_DIR = 'features/csv-import';
const REGISTRY = 'src/imports/tables/index.ts';
const ROUTES = 'src/routes/api/imports.ts';
const LEDGER_MIGRATION = 'xms_imports';
const SYSTEM_COLUMNS = ['id', 'tenant_id', 'owner_id', 'user_id', 'created_by', 'created_at', 'updated_at', 'content_hash'];
/** What the importer needs at run time (versions: templates/app/versions.json). */
const DEPENDENCIES = ['@fastify/multipart', 'csv-parse', 'pg-copy-streams'];
/** PostgreSQL type names (as the migrations reader reports them) -> importer value types */
const PG_TYPES: Record<string, string> = Object.fromEntries([
  ...Object.entries(COLUMN_TYPES).map(([name, t]) => [t.pg, name]),
  ['varchar', 'text'], ['bpchar', 'text'], ['citext', 'text'], ['int2', 'int'], ['serial', 'int'], ['bigserial', 'bigint'],
]);

/** The csv-import feature's files an app is missing (the module, its routes, tests, the ledger migration). */
function featureChanges(appDir: string, fork: string | undefined): FileChange[] {
  const changes: FileChange[] = [];
  const migrations = listMigrations(join(appDir, MIGRATIONS_DIR));
  for (const path of appTemplateFiles(FEATURE_DIR, fork)) {
    const after = appTemplateFile(`${FEATURE_DIR}/${path}`, fork)!;
    if (path.startsWith('supabase/migrations/')) {
      if (migrations.some((m) => m.name === LEDGER_MIGRATION)) continue;
      // a new version: after every migration the app may already have applied
      changes.push({ path: join(MIGRATIONS_DIR, newMigrationFileName(migrations, LEDGER_MIGRATION)), after });
      continue;
    }
    const before = readProjectFile(appDir, path);
    if (before === undefined) changes.push({ path, after });
    else if (path === ROUTES && /export const importRoutes: FastifyPluginAsync = async \(\) => \{\};/.test(before)) {
      changes.push({ path, before, after }); // the base app's empty stub
    }
  }
  return changes;
}

function packageJsonChange(appDir: string): FileChange[] {
  const before = readProjectFile(appDir, 'package.json');
  if (before === undefined) throw new UserError('package.json not found; run this inside an app made by create-xms-app.');
  const pkg = JSON.parse(before) as { dependencies?: Record<string, string> };
  const deps = { ...(pkg.dependencies ?? {}) };
  let changed = false;
  for (const name of DEPENDENCIES) {
    if (!deps[name]) {
      deps[name] = appVersion(name);
      changed = true;
    }
  }
  if (!changed) return [];
  pkg.dependencies = Object.fromEntries(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b)));
  return [{ path: 'package.json', before, after: `${JSON.stringify(pkg, null, 2)}\n` }];
}

const generator: FeatureGenerator = {
  name: 'csv-import',
  description:
    'CSV import and export for a table: streaming upload, per-column validation, de-duplication (in the file, ' +
    'against existing rows by natural key or content hash, and re-uploaded files via the app.imports ledger), all or nothing.',
  questions: [
    { name: 'table', message: 'Table of schema app to import into:', type: 'input', validate: (v) => identifierProblem(v, 'table name') },
    {
      name: 'key',
      message: 'Natural key columns, comma-separated (empty: content hash of the row):',
      type: 'input',
      default: '',
      validate: (v) => {
        for (const k of v.split(',').map((s) => s.trim()).filter(Boolean)) {
          const verdict = identifierProblem(k, 'key column');
          if (verdict !== true) return verdict;
        }
        return true;
      },
    },
  ],

  async plan(appDir: string, answers: Answers): Promise<Plan> {
    return planImport(appDir, answers);
  },
};

async function planImport(appDir: string, answers: Answers): Promise<Plan> {
  const table = String(answers.table ?? '');
  assertIdentifier(table, 'table name', 'table');
  const key = String(answers.key ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const k of key) assertIdentifier(k, 'key column', 'key');
  if (new Set(key).size !== key.length) throw new UserError('--key: a column is named twice.');
  assertApp(appDir);
  if (table === 'imports') throw new UserError('--table: app.imports is the import ledger itself.');

  // featureChanges includes the test harness (its one source is the feature folder)
  const fork = await forkOf(appDir);
  const changes: FileChange[] = [...featureChanges(appDir, fork), ...packageJsonChange(appDir)];
  changes.push(apiIndexChange(appDir, `import { importRoutes } from './imports.js';`, 'await app.register(importRoutes);'));
  // the ledger: admins see and write the tenant's; other roles write their own (the route checks
  // insert on the target table first) and see the tenant's, so a file re-uploaded by a colleague is found
  const ledgerRoles = (await matrixRoles(appDir)).map((role) =>
    role === 'admin' ? `\n  ${role}: { select: tenant, insert: tenant }` : `\n  ${role}: { select: tenant, insert: own }`,
  );
  changes.push(await matrixChange(appDir, 'imports', `imports:${ledgerRoles.join('')}`));

  const registryBefore = readProjectFile(appDir, REGISTRY);
  const registryText = registryBefore ?? appTemplateFile(`${FEATURE_DIR}/${REGISTRY}`, fork)!;
  const specPath = `src/imports/tables/${table}.ts`;
  const alreadyRegistered = new RegExp(`^\\s*${camel(table)},`, 'm').test(registryText);

  const schema = await readSchema(join(appDir, MIGRATIONS_DIR), { cacheDir: schemaCacheDir(appDir) });
  const info = schema.tables.find((t) => t.name === table);
  if (!info) throw new UserError(`--table: no table app.${table} in supabase/migrations (create it first, e.g. xms add table ${table} --columns ...).`);
  const has = (c: string) => info.columns.some((x) => x.name === c);
  if (!has('tenant_id') || !has('id') || !has('created_at')) {
    throw new UserError(`--table: app.${table} needs the columns id, tenant_id and created_at of a tenant-scoped xms table.`);
  }

  const existing = listMigrations(join(appDir, MIGRATIONS_DIR)).find((m) => m.name === `xms_import_${table}`);
  const keyText = key.length ? `natural key (${key.join(', ')})` : 'content hash';
  if (alreadyRegistered && !existing) {
    if (key.length) throw new UserError(`--key: app.${table} already imports by ${table === 'records' ? 'content hash' : 'its registered key'}; edit ${REGISTRY} to change it.`);
    return done(appDir, changes); // records (the feature's own table) or a table registered by hand
  }
  if (existing) {
    const recorded = /^-- key: (.*)$/m.exec(readFileSync(existing.file, 'utf8'))?.[1]?.trim();
    if (recorded !== keyText) {
      throw new UserError(`app.${table} already imports by ${recorded}; refusing to change it to ${keyText} (write a migration and edit ${specPath}).`);
    }
  }

  const columns = info.columns
    .filter((c) => !SYSTEM_COLUMNS.includes(c.name))
    .map((c, i) => {
      const type = PG_TYPES[c.type];
      if (!type) throw new UserError(`--table: column ${table}.${c.name} has type ${c.type}, which the CSV importer does not handle.`);
      const pg = COLUMN_TYPES[type]!.sql;
      // the hash's argument: a timestamptz as its UTC time (its jsonb text would carry the session's offset)
      const hashArg = pg === 'timestamptz' ? `pg_catalog.timezone('UTC', $${i + 1})` : `$${i + 1}`;
      return { name: c.name, csvType: COLUMN_TYPES[type]!.csv, type, pg, hashArg, required: c.notNull && !c.hasDefault, nullable: !c.notNull, sample: COLUMN_TYPES[type]!.sample };
    });
  if (columns.length === 0) throw new UserError(`--table: app.${table} has no columns to import.`);
  for (const k of key) {
    const column = columns.find((c) => c.name === k);
    if (!column) throw new UserError(`--key: app.${table} has no column "${k}" (columns: ${columns.map((c) => c.name).join(', ')}).`);
    if (column.nullable) throw new UserError(`--key: ${table}.${k} is nullable; a natural key needs NOT NULL columns.`);
  }

  const context = {
    table,
    camel: camel(table),
    columns,
    key: key.length > 0,
    keyList: key.join(', '),
    keyName: key.join('_'),
    keyText,
    keyJson: key.length ? JSON.stringify(key).replace(/"/g, "'") : 'null',
    // set once per import to the caller (the xms tables' owner column)
    owner: has('owner_id') ? 'owner_id' : '',
    headerJson: JSON.stringify(columns.map((c) => c.name)),
    rowJson: JSON.stringify(columns.map((c) => String(c.sample))),
  };
  // after the migrations this plan adds too (the ledger's)
  const plannedVersions = changes.filter((c) => c.path.startsWith(MIGRATIONS_DIR)).map((c) => /(\d+)_/.exec(c.path.slice(MIGRATIONS_DIR.length + 1))![1]!);
  const migrationPath = existing
    ? join(MIGRATIONS_DIR, migrationFileName(existing.version, `xms_import_${table}`))
    : join(MIGRATIONS_DIR, newMigrationFileName([...listMigrations(join(appDir, MIGRATIONS_DIR)), ...plannedVersions], `xms_import_${table}`));
  const keep = (path: string, render: () => string): FileChange => {
    const before = readProjectFile(appDir, path);
    return { path, before, after: existing && before !== undefined ? before : render() };
  };
  // an existing migration may already be applied: it is never rewritten
  changes.push(keep(migrationPath, () => renderTemplate('csv-import', 'migration.sql.hbs', context, fork)));
  changes.push(keep(specPath, () => renderTemplate('csv-import', 'table-spec.ts.hbs', context, fork)));
  changes.push(keep(`test/imports/${table}.test.ts`, () => renderTemplate('csv-import', 'import.test.ts.hbs', context, fork)));
  let registry = insertAtMarker(registryText, REGISTRY, '// xms:import-table-imports', `import { ${context.camel} } from './${table}.js';`);
  registry = insertAtMarker(registry, REGISTRY, '// xms:import-tables', `${context.camel},`);
  const registryIndex = changes.findIndex((c) => c.path === REGISTRY);
  if (registryIndex >= 0) changes[registryIndex] = { ...changes[registryIndex]!, after: registry };
  else changes.push({ path: REGISTRY, before: registryBefore, after: registry });
  return done(appDir, changes);
}

async function done(appDir: string, changes: FileChange[]): Promise<Plan> {
  const all = await withCompiledMatrix(appDir, changes);
  const installs = all.some((change) => change.path === 'package.json' && change.before !== change.after);
  return { changes: all, notes: installs ? ['run npm install (@fastify/multipart, csv-parse, pg-copy-streams)'] : [] };
}

export default generator;
