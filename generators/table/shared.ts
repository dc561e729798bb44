import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readProjectFile } from '../../lib/engine/changes.js';
import { builtinTemplatesDir } from '../../lib/engine/paths.js';
import type { FileChange } from '../types.js';

/**
 * The app-side test harness (a migrated database, users with sessions, requests over HTTP). Every app
 * has it (templates/app/base); generators add it to an older app that lacks it and leave an existing
 * one alone (the app may have extended it).
 */
export const HARNESS_PATH = 'test/helpers/app.ts';

export function harnessChanges(appDir: string): FileChange[] {
  const before = readProjectFile(appDir, HARNESS_PATH);
  if (before !== undefined) return [];
  const after = readFileSync(join(builtinTemplatesDir(), 'app', 'base', HARNESS_PATH), 'utf8');
  return [{ path: HARNESS_PATH, after }];
}

/** Recompiles permissions.yml (a new policy migration only when the matrix changed). */
export async function recompileMatrix(appDir: string): Promise<string[]> {
  const { writeCompiled } = await import('../../lib/matrix/write.js');
  const result = await writeCompiled(appDir);
  return result.written.map((path) => `compiled ${path}`);
}
