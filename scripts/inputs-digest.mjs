// A digest of what the build is made from, walked in a fixed order (path and bytes of every file), so
// that a script can tell "nothing changed since the last build" without building.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @param {string} root the repository
 * @param {{ dirs: string[], files?: string[], packages?: string[] }} inputs folders and files under
 *   root, and installed packages (their package.json: the version that is installed)
 */
export function inputsDigest(root, { dirs, files = [], packages = [] }) {
  const hash = createHash('sha256');
  const add = (path) => hash.update(`${path.slice(root.length)}\0`).update(readFileSync(path)).update('\0');
  const walk = (dir) => {
    for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, d.name);
      if (d.isDirectory()) walk(path);
      else add(path);
    }
  };
  for (const dir of dirs) walk(join(root, dir));
  for (const file of files) if (existsSync(join(root, file))) add(join(root, file));
  for (const name of packages) add(join(root, 'node_modules', name, 'package.json'));
  return hash.digest('hex');
}
