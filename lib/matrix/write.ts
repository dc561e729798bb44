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
import { auditTableColumns, compileMatrix, knownTableNames, type Compiled } from './compile.js';
import { parseMatrix } from './parse.js';
import { listMigrations, readSchema } from './schema.js';

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

/** Compiles the app's matrix (no writes). */
export async function compileApp(appDir: string): Promise<Compiled> {
  const schema = await readSchema(join(appDir, MIGRATIONS_DIR));
  const file = join(appDir, MATRIX_FILE);
  const source = readFileSync(file, 'utf8');
  const matrix = parseMatrix(source, { file: MATRIX_FILE, tables: knownTableNames(schema), auditTables: auditTableColumns(schema) });
  return compileMatrix(matrix, schema);
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
