/**
 * writeCompiled(appDir): compiles <appDir>/permissions.yml against the tables of
 * <appDir>/supabase/migrations and writes
 *   - src/generated/permissions.ts and src/generated/permissions.testdata.ts (only when they change);
 *   - a new permissions migration, only when the compiled SQL differs from the latest existing
 *     `*_xms_permissions.sql` (an unchanged matrix writes nothing). The first one is
 *     20240101000200_xms_permissions.sql; later ones take the current UTC time as version (always
 *     after the latest migration), so `supabase db push` and the app's migrator apply them in order.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { appCacheDir, compileKey, packageCacheDir, readCached, writeCached } from './cache.js';
import type { Compiled } from './compile.js';
import { listMigrations } from './migrations.js';

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

/** Compiles the app's matrix (no writes to the app), from the cache when nothing changed. */
export async function compileApp(appDir: string, options: CompileOptions = {}): Promise<Compiled> {
  const source = readFileSync(join(appDir, MATRIX_FILE), 'utf8');
  const migrationsDir = join(appDir, MIGRATIONS_DIR);
  const key = compileKey(source, listMigrations(migrationsDir));
  const useApp = (options.cache ?? 'app') === 'app';
  const cached = readCached(key, useApp ? [packageCacheDir(), appCacheDir(appDir)] : [packageCacheDir()]);
  if (cached) return cached;
  // a miss: only now load the YAML and SQL parsers
  const [{ auditTableColumns, compileMatrix, knownTableNames }, { parseMatrix }, { readSchema }] = await Promise.all([
    import('./compile.js'),
    import('./parse.js'),
    import('./schema.js'),
  ]);
  const schema = await readSchema(migrationsDir);
  const matrix = parseMatrix(source, { file: MATRIX_FILE, tables: knownTableNames(schema), auditTables: auditTableColumns(schema) });
  const compiled = compileMatrix(matrix, schema);
  if (process.env.XMS_MATRIX_CACHE_DIR) writeCached(key, packageCacheDir(), compiled);
  else if (useApp && existsSync(join(appDir, 'node_modules'))) writeCached(key, appCacheDir(appDir), compiled);
  return compiled;
}

function writeIfChanged(path: string, contents: string): boolean {
  if (existsSync(path) && readFileSync(path, 'utf8') === contents) return false;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
  return true;
}

function utcVersion(now: Date): string {
  return now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** The version for a new migration: now (UTC), or one after the latest existing version. */
export function nextVersion(existing: string[], now = new Date()): string {
  const latest = existing.reduce((a, b) => (b > a ? b : a), '0');
  const candidate = utcVersion(now);
  if (candidate.length === latest.length ? candidate > latest : candidate.length > latest.length) return candidate;
  return (BigInt(latest) + 1n).toString().padStart(latest.length, '0');
}

export async function writeCompiled(appDir: string, options: { now?: Date } = {}): Promise<WriteResult> {
  const compiled = await compileApp(appDir);
  const written: string[] = [];
  const rel = (p: string) => relative(appDir, p);

  for (const [file, contents] of [
    [GUARD_MAP_FILE, compiled.guardMapTs],
    [TEST_DATA_FILE, compiled.testDataTs],
  ] as const) {
    const path = join(appDir, file);
    if (writeIfChanged(path, contents)) written.push(rel(path));
  }

  const dir = join(appDir, MIGRATIONS_DIR);
  const migrations = listMigrations(dir);
  const previous = migrations.filter((m) => m.name === PERMISSIONS_MIGRATION_NAME).pop();
  let migration: string | undefined;
  if (!previous || readFileSync(previous.file, 'utf8') !== compiled.sql) {
    const version = previous ? nextVersion(migrations.map((m) => m.version), options.now) : FIRST_PERMISSIONS_VERSION;
    const path = join(dir, `${version}_${PERMISSIONS_MIGRATION_NAME}.sql`);
    writeIfChanged(path, compiled.sql);
    migration = rel(path);
    written.push(migration);
  }
  return { compiled, written, migration };
}
