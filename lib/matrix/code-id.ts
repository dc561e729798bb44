/**
 * The identity of a matrix module's code, for the content-addressed caches (cache.ts: compiled
 * matrices; schema.ts: a migration's schema operations): the SHA-256 of the module's source.
 * The CLI runs from bundles (dist/cli, scripts/build-bundle.mjs) made from dist/lib by the same build,
 * so the compiled module in dist/lib is the code it runs; from sources (tests, tsx), the .ts file is.
 * Never the file a module runs from: one module is bundled into both CLIs' files, and what a scaffold
 * (create) cached must be found by `xms add table` (xms).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../engine/paths.js';

const ids = new Map<string, string>();

/** The hash of the code of lib/matrix/<name> (e.g. 'schema'), once per process. */
export function matrixModuleId(name: string): string {
  let id = ids.get(name);
  if (!id) {
    const fromSources = import.meta.url.endsWith('.ts');
    const file = fromSources ? join(packageRoot(), 'lib', 'matrix', `${name}.ts`) : join(packageRoot(), 'dist', 'lib', 'matrix', `${name}.js`);
    id = createHash('sha256').update(name).update(readFileSync(file)).digest('hex');
    ids.set(name, id);
  }
  return id;
}
