import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The folder holding this package's package.json, whether we run from `dist/` or from sources. */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'templates'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('create-xms-app: cannot find the package root');
    dir = parent;
  }
  cachedRoot = dir;
  return dir;
}

export function builtinTemplatesDir(): string {
  return join(packageRoot(), 'templates');
}
