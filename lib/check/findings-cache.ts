/**
 * The findings of the server checks and of the PGlite database checks, kept per content: a check of
 * an app whose files did not change since a check (the loop of running `xms check` again after
 * `xms add`, a commit hook, CI re-runs) reuses them instead of loading TypeScript's compiler (~150 MiB)
 * and a migrated PGlite (~300 MiB).
 *
 * The key is the SHA-256 of everything these findings can depend on:
 * - the path and full content of every file of the app, except node_modules, .git and dist folders
 *   (at any depth) and the top-level .data (the dev database) and test-artifacts folders, which no
 *   cached check reads; an app holding any other symbolic link is not cached (its target could change
 *   unseen);
 * - the checker itself: the content of every module of this package's lib/ (dist/lib when built);
 * - the PGlite and TypeScript builds the app resolves (path, size, modification time).
 * Any edit, even whitespace, is a new key: the checks then run in full. Findings against a live
 * database (DATABASE_URL) and the repo checks (git's index, .env files) are never cached.
 * Same trust rule as the migrated snapshots (./database.ts): only entries this user owns, in a folder
 * nobody else can write to, are read. XMS_CHECK_NO_CACHE=1 turns it off (with the database
 * snapshots); XMS_CHECK_NO_FINDINGS_CACHE=1 only this cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, ownedByMe, resolveFrom, writePrivate } from './database.js';
import type { Finding } from './types.js';

export type CachedPart = 'server' | 'pglite';

/** Folders skipped wherever they are: dependencies, git's store, build output (no cached check reads them). */
const SKIP_ANYWHERE = new Set(['node_modules', '.git', 'dist']);
/** Top-level folders skipped: the dev database's data folder, browser tests' screenshots. */
const SKIP_TOP = new Set(['.data', 'test-artifacts']);

/** Hash of the app's files (path and content); undefined when a symbolic link makes it unsound. */
function appFilesHash(appDir: string): string | undefined {
  const h = createHash('sha256');
  const walk = (rel: string): boolean => {
    const abs = rel ? join(appDir, rel) : appDir;
    const entries = readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (SKIP_ANYWHERE.has(entry.name) || (!rel && SKIP_TOP.has(entry.name))) continue;
      if (entry.isDirectory()) {
        h.update(`d\0${path}\0`);
        if (!walk(path)) return false;
      } else if (entry.isFile()) {
        const contents = readFileSync(join(abs, entry.name));
        h.update(`f\0${path}\0${contents.length}\0`).update(contents);
      } else if (entry.isSymbolicLink()) {
        return false;
      }
      // sockets, FIFOs: nothing a check reads
    }
    return true;
  };
  return walk('') ? h.digest('hex') : undefined;
}

let checkerHash: string | undefined;
/** Hash of this package's lib/ (the check, the matrix compiler it compares against, their helpers). */
function checker(): string {
  if (checkerHash) return checkerHash;
  const h = createHash('sha256');
  const lib = dirname(dirname(fileURLToPath(import.meta.url)));
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else h.update(`${path}\0`).update(readFileSync(path)).update('\0');
    }
  };
  walk(lib);
  return (checkerHash = h.digest('hex'));
}

function buildOf(name: string, appDir: string): string {
  const resolved = resolveFrom(name, appDir);
  if (!resolved) return `${name}: none`;
  const st = statSync(resolved);
  return `${name}: ${resolved}:${st.size}:${st.mtimeMs}`;
}

/**
 * The cache keys of each part's findings for the app as it is now; undefined when it must not be
 * cached. Computed before the checks run and again after: findings are stored only when both agree
 * (a file edited while the checks ran could have been read in either version).
 */
export function findingsKeys(appDir: string): Record<CachedPart, string | undefined> {
  if (process.env.XMS_CHECK_NO_CACHE || process.env.XMS_CHECK_NO_FINDINGS_CACHE) return { server: undefined, pglite: undefined };
  const files = appFilesHash(appDir);
  if (!files) return { server: undefined, pglite: undefined };
  const key = (part: CachedPart) =>
    createHash('sha256')
      .update(`xms-check-findings 1\0${part}\0${checker()}\0`)
      .update(`${buildOf('@electric-sql/pglite', appDir)}\0${buildOf('typescript', appDir)}\0${files}`)
      .digest('hex')
      .slice(0, 32);
  return { server: key('server'), pglite: key('pglite') };
}

const fileOf = (appDir: string, part: CachedPart, key: string) => join(cacheDir(appDir), `findings-${part}-${key}.json`);

/** The findings stored under this key, if any (and only from a file this user owns). */
export function readFindings(appDir: string, part: CachedPart, key: string | undefined): Finding[] | undefined {
  if (!key) return undefined;
  const file = fileOf(appDir, part, key);
  try {
    if (!existsSync(file) || !ownedByMe(file)) return undefined;
    const json = JSON.parse(readFileSync(file, 'utf8')) as { key?: string; findings?: Finding[] };
    return json.key === key && Array.isArray(json.findings) ? json.findings : undefined;
  } catch {
    return undefined; // torn or foreign: run the checks
  }
}

/** Stores a part's findings under its key; keeps the newest 8 entries of each part. */
export function writeFindings(appDir: string, part: CachedPart, key: string | undefined, findings: Finding[]): void {
  if (!key) return;
  try {
    writePrivate(fileOf(appDir, part, key), JSON.stringify({ key, findings }));
    const dir = cacheDir(appDir);
    const entries = readdirSync(dir)
      .filter((f) => f.startsWith(`findings-${part}-`) && f.endsWith('.json'))
      .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of entries.slice(8)) rmSync(join(dir, f), { force: true });
  } catch {
    // the cache is an optimisation only
  }
}
