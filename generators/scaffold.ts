/**
 * What scaffolding adds to the rendered app tree (lib/app) before it is moved into place: the built-in
 * `records` table's routes and tests, planned exactly as `xms add table` plans them (the fork's table
 * templates included), and the compiled permission matrix; one plan, one write.
 */
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { applyChanges } from '../lib/engine/changes.js';
import { withCompiledMatrix } from './kit/app.js';
import { parseColumns } from './kit/spec.js';
import { tableApiChanges } from './kit/table-api.js';
import { forkHasAppFile } from './kit/templates.js';

/**
 * Runs after the tree is written to the staging folder and before it is moved into place: compiles
 * the permission matrix into its policy migration and server guard map, so a new app starts compiled.
 */
export async function prepareApp(stagingDir: string, options: { teamTemplateDir?: string } = {}): Promise<void> {
  // The built-in app.records table gets exactly the routes and tests `xms add table` writes; one
  // plan with the compiled matrix, one write.
  const fork = options.teamTemplateDir;
  // a route or test the fork supplies itself is its own, not replaced by the (forked) table template
  const records = tableApiChanges(stagingDir, 'records', parseColumns(RECORDS_COLUMNS), { fork, keepExisting: (path) => forkHasAppFile(fork, path) });
  applyChanges(stagingDir, await withCompiledMatrix(stagingDir, records));
  // git runs a hook only when it is executable (templates are written as plain files)
  const hook = join(stagingDir, '.githooks', 'pre-commit');
  if (existsSync(hook)) chmodSync(hook, 0o755);
}

/** The user-editable columns of app.records (supabase/migrations/*_xms_tables.sql), as a column spec. */
const RECORDS_COLUMNS = 'title:text,body:text';
