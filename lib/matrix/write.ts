/**
 * The permission matrix as a step of a plan. planCompiled(appDir, planned) compiles
 * <appDir>/permissions.yml against the tables of <appDir>/supabase/migrations, both as they will be
 * once `planned` (a generator's other changes) is applied, and returns the file changes:
 *   - src/generated/permissions.ts and src/generated/permissions.testdata.ts (when they change);
 *   - a new permissions migration, only when the compiled SQL differs from the latest
 *     `*_xms_permissions.sql` (an unchanged matrix changes nothing). The first one is
 *     20240101000200_xms_permissions.sql; later ones take the current UTC time as version (always
 *     after the latest migration), so `supabase db push` and the app's migrator apply them in order.
 * Nothing here writes: the changes join the plan they belong to, which the one writer
 * (lib/engine/changes.ts) applies; writeCompiled is `xms compile`'s plan-then-write.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyChanges, type PlannedChange } from '../engine/changes.js';
import { appCacheDir, compileKey, packageCacheDir, readCached, writeCached } from './cache.js';
import type { Compiled } from './compile.js';
import { listMigrations, migrationFileName, nextVersion } from './migrations.js';

export { nextVersion };
export const MATRIX_FILE = 'permissions.yml';
export const MIGRATIONS_DIR = join('supabase', 'migrations');
export const FIRST_PERMISSIONS_VERSION = '20240101000200';
export const PERMISSIONS_MIGRATION_NAME = 'xms_permissions';
export const GUARD_MAP_FILE = join('src', 'generated', 'permissions.ts');
export const TEST_DATA_FILE = join('src', 'generated', 'permissions.testdata.ts');

export interface WriteResult {
  compiled: Compiled;
  /** files written, relative to appDir (empty when nothing changed) */
  written: string[];
  /** the new migration, relative to appDir, if one was written */
  migration?: string;
}

export interface CompileOptions {
  /**
   * 'app' (default): the package's cache and the app's own (node_modules/.cache), which a result is
   * also stored in; 'package': the package's cache only (xms check: nothing outside the package's code
   * may decide what it expects).
   */
  cache?: 'app' | 'package';
}

/** One migration as a compilation reads it (from disk, or planned). */
interface MigrationInput {
  version: string;
  name: string;
  /** `<version>_<name>.sql` below the migrations folder */
  file: string;
  sql: string;
}

interface MatrixInputs {
  source: string;
  migrations: MigrationInput[];
}

const slashes = (path: string) => path.split('\\').join('/');
const MIGRATION_PATH = /^supabase\/migrations\/(\d+)_(.+)\.sql$/;

/** permissions.yml and the migrations as the app has them once `planned` is applied. */
function readInputs(appDir: string, planned: PlannedChange[]): MatrixInputs {
  const overlay = new Map(planned.map((change) => [slashes(change.path), change.after]));
  const text = (value: string | Buffer | null | undefined) => (value == null ? value : value.toString());
  const source = overlay.has(MATRIX_FILE) ? text(overlay.get(MATRIX_FILE)) : readFileSync(join(appDir, MATRIX_FILE), 'utf8');
  if (source == null) throw new Error(`${MATRIX_FILE} is deleted by the plan`);
  const migrations = new Map<string, MigrationInput>();
  for (const m of listMigrations(join(appDir, MIGRATIONS_DIR))) {
    const file = migrationFileName(m.version, m.name);
    migrations.set(`${slashes(MIGRATIONS_DIR)}/${file}`, { version: m.version, name: m.name, file: join(MIGRATIONS_DIR, file), sql: readFileSync(m.file, 'utf8') });
  }
  for (const [path, after] of overlay) {
    const match = MIGRATION_PATH.exec(path);
    if (!match) continue;
    if (after === null) migrations.delete(path);
    else migrations.set(path, { version: match[1]!, name: match[2]!, file: path, sql: text(after)! });
  }
  const ordered = [...migrations.values()].sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  return { source, migrations: ordered };
}

/** Compiles the app's matrix (no writes to the app), from the cache when nothing changed. */
export async function compileApp(appDir: string, options: CompileOptions = {}): Promise<Compiled> {
  return compileInputs(appDir, readInputs(appDir, []), options);
}

async function compileInputs(appDir: string, inputs: MatrixInputs, options: CompileOptions): Promise<Compiled> {
  const key = compileKey(inputs.source, inputs.migrations);
  const useApp = (options.cache ?? 'app') === 'app';
  const cached = readCached(key, useApp ? [packageCacheDir(), appCacheDir(appDir)] : [packageCacheDir()]);
  if (cached) return cached;
  // a miss: only now load the YAML and SQL parsers
  const [{ auditTableColumns, compileMatrix, knownTableNames }, { parseMatrix }, { readSchemaFromFiles, schemaCacheDir }] = await Promise.all([
    import('./compile.js'),
    import('./parse.js'),
    import('./schema.js'),
  ]);
  const schema = await readSchemaFromFiles(
    inputs.migrations.map((m) => ({ file: join(appDir, m.file), sql: m.sql })),
    { cacheDir: useApp ? schemaCacheDir(appDir) : undefined },
  );
  const matrix = parseMatrix(inputs.source, { file: MATRIX_FILE, tables: knownTableNames(schema), auditTables: auditTableColumns(schema) });
  const compiled = compileMatrix(matrix, schema);
  if (process.env.XMS_MATRIX_CACHE_DIR) writeCached(key, packageCacheDir(), compiled);
  else if (useApp && existsSync(join(appDir, 'node_modules'))) writeCached(key, appCacheDir(appDir), compiled);
  return compiled;
}

export interface CompiledPlan {
  compiled: Compiled;
  /** the compiled files that change (marked `compiled`), relative to appDir */
  changes: PlannedChange[];
  /** the new permissions migration, relative to appDir, if one is planned */
  migration?: string;
}

/**
 * The compilation step of a plan: the compiled files as they must be once `planned` is applied
 * (only those that change). `planned` is not included in the result.
 */
export async function planCompiled(appDir: string, planned: PlannedChange[] = [], options: { now?: Date } = {}): Promise<CompiledPlan> {
  const inputs = readInputs(appDir, planned);
  const compiled = await compileInputs(appDir, inputs, {});
  const overlay = new Map(planned.map((change) => [slashes(change.path), change]));
  const current = (path: string): string | undefined => {
    const change = overlay.get(slashes(path));
    if (change) return change.after == null ? undefined : change.after.toString();
    return existsSync(join(appDir, path)) ? readFileSync(join(appDir, path), 'utf8') : undefined;
  };
  const changes: PlannedChange[] = [];
  for (const [path, after] of [
    [GUARD_MAP_FILE, compiled.guardMapTs],
    [TEST_DATA_FILE, compiled.testDataTs],
  ] as const) {
    const before = current(path);
    if (before !== after) changes.push({ path, before: overlay.get(slashes(path))?.before ?? before, after, compiled: true });
  }
  const previous = inputs.migrations.filter((m) => m.name === PERMISSIONS_MIGRATION_NAME).pop();
  let migration: string | undefined;
  if (!previous || previous.sql !== compiled.sql) {
    const version = previous ? nextVersion(inputs.migrations.map((m) => m.version), options.now) : FIRST_PERMISSIONS_VERSION;
    migration = join(MIGRATIONS_DIR, migrationFileName(version, PERMISSIONS_MIGRATION_NAME));
    changes.push({ path: migration, before: current(migration), after: compiled.sql, compiled: true });
    // The compiled SQL changes no table (roles, grants, policies, DO blocks, audit rules: proven by
    // test/matrix/schema-known.test.ts): kept as such in the app's statement cache, so the next
    // compile or `xms add` need not parse it (an app without node_modules has no cache to keep it in).
    if (process.env.XMS_SCHEMA_CACHE_DIR || existsSync(join(appDir, 'node_modules'))) {
      const { rememberSchemaOps, schemaCacheDir } = await import('./schema.js');
      rememberSchemaOps(compiled.sql, [], schemaCacheDir(appDir));
    }
  }
  return { compiled, changes, migration };
}

/** `xms compile`: plans the compiled files and writes them through the one writer. */
export async function writeCompiled(appDir: string, options: { now?: Date } = {}): Promise<WriteResult> {
  const { compiled, changes, migration } = await planCompiled(appDir, [], options);
  const written = applyChanges(appDir, changes);
  return { compiled, written, migration };
}
