import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { UserError } from '../engine/errors.js';

/**
 * Where this copy of create-xms-app came from, decided from local files only (no registry call):
 * - `checkout`: a git checkout (or any folder not installed by a package manager);
 * - `local-install`: npm installed it from a tarball or folder (its hidden lock file says so);
 * - `registry`: anything else a package manager installed, i.e. the published package.
 * Only the published package can be depended on as `^<version>`.
 */
export function installSource(root: string): 'checkout' | 'local-install' | 'registry' {
  if (existsSync(join(root, '.git'))) return 'checkout';
  const parts = root.split(sep);
  if (!parts.includes('node_modules')) return 'checkout';
  // npm's hidden lock file (<prefix>/node_modules/.package-lock.json) records where each package came from
  const prefix = parts.slice(0, parts.indexOf('node_modules')).join(sep) || sep;
  const lock = join(prefix, 'node_modules', '.package-lock.json');
  if (!existsSync(lock)) return 'registry';
  try {
    const packages = (JSON.parse(readFileSync(lock, 'utf8')) as { packages?: Record<string, { resolved?: string; link?: boolean }> }).packages ?? {};
    const entry = packages[relative(prefix, root).split(sep).join('/')];
    if (!entry) return 'registry';
    if (entry.link || (entry.resolved !== undefined && !/^https?:\/\//.test(entry.resolved))) return 'local-install';
  } catch {
    // an unreadable lock file says nothing: assume the registry, as a package manager other than npm would
  }
  return 'registry';
}

/** The cache folder for packed tarballs ($XDG_CACHE_HOME/create-xms-app, else ~/.cache/create-xms-app). */
export function packCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'create-xms-app');
}

/**
 * A key for the files `npm pack` would take (package.json's `files` and package.json itself): their
 * paths, sizes and modification times. Any rebuild or edit gives a new key, so a stale tarball is never used.
 */
function contentKey(root: string, manifest: { files?: string[] }): string {
  const hash = createHash('sha256');
  // relative paths joined by hand: path.join's normalising of every name was most of this walk's time
  const add = (rel: string) => {
    const path = `${root}${sep}${rel}`;
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const name of readdirSync(path).sort()) add(`${rel}${sep}${name}`);
    } else {
      hash.update(`${rel}\0${stat.size}\0${stat.mtimeMs}\n`);
    }
  };
  for (const entry of ['package.json', ...(manifest.files ?? [])]) if (existsSync(join(root, entry))) add(entry);
  return hash.digest('hex').slice(0, 16);
}

async function npmPack(root: string, destination: string): Promise<string> {
  // loaded only to pack (a scaffold from a checkout whose tarball is cached never spawns)
  const { spawn } = await import('node:child_process');
  return new Promise((resolvePack, reject) => {
    // --ignore-scripts: the running copy is already built (its bin runs dist/), nothing to prepare
    const child = spawn('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', destination], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: process.platform === 'win32',
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => reject(new UserError(`Cannot pack create-xms-app from ${root}: ${error.message}`)));
    child.on('close', (code) => {
      const tarball = readdirSync(destination).find((name) => name.endsWith('.tgz'));
      if (code === 0 && tarball) resolvePack(join(destination, tarball));
      else reject(new UserError(`npm pack of ${root} failed (exit ${code}): ${output.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/**
 * The spec of the create-xms-app dependency written into a new app. CREATE_XMS_APP_SPEC wins (set but
 * empty: the registry's `^<version>`). The published package writes `^<version>`; a copy the registry
 * does not have (a checkout, a local install) packs itself once into the cache and writes `file:<tarball>`,
 * so the new app installs instead of failing on a 404.
 */
export async function xmsDependencySpec(
  root: string,
  onPack: (work: () => Promise<string>) => Promise<string> = (work) => work(),
): Promise<{ spec: string; packed?: string }> {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string; files?: string[] };
  const override = process.env.CREATE_XMS_APP_SPEC;
  if (override !== undefined) return { spec: override || `^${manifest.version}` };
  if (installSource(root) === 'registry') return { spec: `^${manifest.version}` };

  const cache = packCacheDir();
  const tarball = join(cache, `${manifest.name}-${manifest.version}-${contentKey(root, manifest)}.tgz`);
  if (!existsSync(tarball)) {
    mkdirSync(cache, { recursive: true });
    // packed into a scratch folder, then renamed: a concurrent run never sees half a tarball
    const scratch = mkdtempSync(join(cache, '.pack-'));
    try {
      const packed = await onPack(() => npmPack(root, scratch));
      renameSync(packed, tarball);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return { spec: `file:${tarball}`, packed: tarball };
}
