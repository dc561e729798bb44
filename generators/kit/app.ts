/**
 * The generators' shared kit for editing an app: is it an xms app, its permission matrix (roles,
 * a table's entry), the protected API index, the test harness, and the plan's compilation step.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../lib/engine/errors.js';
import { insertAtMarker, readProjectFile } from '../../lib/engine/changes.js';
import { MIGRATIONS_DIR, MATRIX_FILE } from '../../lib/matrix/write.js';
import type { FileChange } from '../types.js';
import { appTemplateFile } from './templates.js';

/**
 * yaml is loaded on first use, with the matrix parser that re-exports it (the compilation that
 * follows every edit of permissions.yml needs that parser anyway): scaffolding imports the kit
 * without editing permissions.yml.
 */
type Yaml = Pick<typeof import('../../lib/matrix/parse.js'), 'parseDocument' | 'isMap'>;
let yamlModule: Yaml | undefined;
const yaml = async (): Promise<Yaml> => (yamlModule ??= await import('../../lib/matrix/parse.js'));

/** permissions.yml parsed once per content (the roles and the tables are both read from it). */
let lastMatrix: { source: string; doc: ReturnType<Yaml['parseDocument']> } | undefined;
async function matrixDocument(source: string) {
  if (lastMatrix?.source !== source) lastMatrix = { source, doc: (await yaml()).parseDocument(source) };
  return lastMatrix.doc;
}
export const API_INDEX = 'src/routes/api/index.ts';
export const API_IMPORTS_MARKER = '// xms:api-imports';
export const API_ROUTES_MARKER = '// xms:api-routes';
export const MATRIX_MARKER = '# xms:tables';
export function assertApp(appDir: string): void {
  if (!existsSync(join(appDir, MATRIX_FILE)) || !existsSync(join(appDir, MIGRATIONS_DIR))) {
    throw new UserError(`${appDir} is not an xms app (no ${MATRIX_FILE} or ${MIGRATIONS_DIR}); run this inside an app made by create-xms-app.`);
  }
}

/** Adds `name: { admin: tenant }` under the matrix's tables (nothing when the table is there already). */
export async function matrixChange(appDir: string, table: string, entry: string): Promise<FileChange> {
  const before = readProjectFile(appDir, MATRIX_FILE)!;
  const tables = (await matrixDocument(before)).get('tables');
  const { isMap } = await yaml();
  if (isMap(tables) && tables.has(table)) return { path: MATRIX_FILE, before, after: before };
  return { path: MATRIX_FILE, before, after: insertAtMarker(before, MATRIX_FILE, MATRIX_MARKER, entry) };
}

/** The roles declared in the app's permissions.yml. */
export async function matrixRoles(appDir: string): Promise<string[]> {
  const roles = (await matrixDocument(readProjectFile(appDir, MATRIX_FILE) ?? '')).get('roles');
  const { isMap } = await yaml();
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

/**
 * The app-side test harness (a migrated database, users with sessions, requests over HTTP). Every app
 * has it (templates/app/base); generators add it to an older app that lacks it and leave an existing
 * one alone (the app may have extended it).
 */
export const HARNESS_PATH = 'test/helpers/app.ts';

export function harnessChanges(appDir: string, fork?: string): FileChange[] {
  const before = readProjectFile(appDir, HARNESS_PATH);
  if (before !== undefined) return [];
  const after = appTemplateFile(`base/${HARNESS_PATH}`, fork);
  if (after === undefined) throw new Error(`templates/app/base/${HARNESS_PATH} is missing`);
  return [{ path: HARNESS_PATH, after }];
}

/**
 * The plan's compilation step: `changes` plus the compiled matrix as it must be once they are applied
 * (the guard map, its test data, a new policy migration when the policies change). A plan that
 * changes nothing stays empty: a second run must not pick up matrix edits awaiting `xms compile`.
 */
export async function withCompiledMatrix(appDir: string, changes: FileChange[]): Promise<FileChange[]> {
  if (!changes.some((change) => change.before !== change.after)) return changes;
  const { planCompiled } = await import('../../lib/matrix/write.js');
  const compiled = await planCompiled(appDir, changes);
  const merged = [...changes];
  for (const change of compiled.changes) {
    const index = merged.findIndex((c) => c.path === change.path);
    const entry: FileChange = { path: change.path, before: change.before?.toString(), after: String(change.after), compiled: true };
    if (index >= 0) merged[index] = { ...entry, before: merged[index]!.before };
    else merged.push(entry);
  }
  return merged;
}
