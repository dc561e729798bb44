import { readFileSync, rmSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readFileSync as read } from 'node:fs';
import { listTree } from '../../lib/engine/index.js';
import { create, REPO_ROOT, tempDir } from './cli.js';

export const PRESETS = ['minimal', 'default', 'full'] as const;
export const SNAPSHOT_ROOT = join(REPO_ROOT, 'snapshots');
/** Every snapshot app has the same name, so only what a preset changes shows up in a diff. */
export const SNAPSHOT_APP_NAME = 'xms-snapshot';

const version: string = JSON.parse(read(join(REPO_ROOT, 'package.json'), 'utf8')).version;

/**
 * Volatile values become placeholders: the generator's version (it changes on every release) and
 * absolute paths. A `.gitignore` is stored as `_gitignore` so it does not act on this repo.
 */
export function normalise(path: string, contents: string, appDir: string): [string, string] {
  const storedPath = path.replace(/(^|\/)\.gitignore$/, '$1_gitignore');
  const text = contents
    .split(appDir).join('<app-dir>')
    // xms.json: the generator's version and source (this checkout's folder)
    .split(`"version": "${version}"`).join('"version": "<xms-version>"')
    .split(JSON.stringify(REPO_ROOT)).join('"<xms-source>"')
    .split(`^${version}`).join('^<xms-version>')
    .replace(/create-xms-app(\]\([^)]*\))? \d+\.\d+\.\d+/g, 'create-xms-app$1 <xms-version>');
  return [storedPath, text];
}

/** Scaffolds a preset with the built CLI (no install, no git) and returns its normalised tree. */
export function generatePreset(preset: string): Map<string, string> {
  const { dir, cleanup } = tempDir(`xms-snap-${preset}-`);
  try {
    const appDir = join(dir, SNAPSHOT_APP_NAME);
    const env = { CREATE_XMS_APP_SPEC: '' };
    const result = create([appDir, '--preset', preset, '--db', 'pglite', '--package-manager', 'npm', '--no-install', '--no-git'], { env });
    if (result.status !== 0) throw new Error(`scaffolding ${preset} failed: ${result.stderr}`);
    const tree = new Map<string, string>();
    for (const path of listTree(appDir)) {
      const [storedPath, text] = normalise(path, readFileSync(join(appDir, path), 'utf8'), appDir);
      tree.set(storedPath, text);
    }
    return tree;
  } finally {
    cleanup();
  }
}

export function readSnapshot(preset: string): Map<string, string> {
  const root = join(SNAPSHOT_ROOT, preset);
  const tree = new Map<string, string>();
  if (!existsSync(root)) return tree;
  for (const path of listTree(root)) tree.set(path, readFileSync(join(root, path), 'utf8'));
  return tree;
}

export function writeSnapshot(preset: string, tree: Map<string, string>): void {
  const root = join(SNAPSHOT_ROOT, preset);
  rmSync(root, { recursive: true, force: true });
  for (const [path, text] of tree) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}
