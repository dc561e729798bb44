import { readProjectFile } from '../../lib/engine/changes.js';
import { appTemplateFile } from '../templates.js';
import type { FileChange } from '../types.js';

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
