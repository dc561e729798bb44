/**
 * The findings of the server checks and of the PGlite database checks, kept per content: a check of
 * an app whose inputs did not change since a check (the loop of running `xms check` again after
 * `xms add`, a commit hook, CI re-runs) reuses them instead of loading TypeScript's compiler (~150 MiB)
 * and a migrated PGlite (~300 MiB).
 *
 * Each part has its own key, the SHA-256 of everything its findings can depend on:
 * - server: the path and full content of every file of the app, except node_modules, .git and dist
 *   folders (at any depth) and the top-level .data (the dev database) and test-artifacts folders,
 *   which no cached check reads; the TypeScript build the app resolves;
 * - pglite (the database part): only what the database checks read of the app, the files of
 *   DATABASE_INPUTS (the migrations, supabase/config.toml's exposed schemas, permissions.yml: a test
 *   traces every file the database checks open and fails on any other), the PGlite build the app
 *   resolves, and the builds of the SQL and YAML parsers the matrix compiler loads. Editing a route
 *   therefore re-runs the server checks only: PGlite is not even started;
 * - both: the checker itself, the content of every module of this package's lib/ (dist/lib when built).
 * A build is identified by its resolved file's path, size and modification time. Any edit of an input,
 * even whitespace, is a new key: that part then runs in full. A symbolic link among a part's inputs
 * makes that part uncached (its target could change unseen). Findings against a live database
 * (DATABASE_URL) and the repo checks (git's index, .env files) are never cached.
 * Same trust rule as the migrated snapshots (./database.ts): only entries this user owns, in a folder
 * nobody else can write to, are read. XMS_CHECK_NO_CACHE=1 turns it off (with the database
 * snapshots); XMS_CHECK_NO_FINDINGS_CACHE=1 only this cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, ownedByMe, resolveFrom, writePrivate } from './database.js';
import type { Finding } from './types.js';

export type CachedPart = 'server' | 'pglite';

/** Folders skipped wherever they are: dependencies, git's store, build output (no cached check reads them). */
const SKIP_ANYWHERE = new Set(['node_modules', '.git', 'dist']);
/** Top-level folders skipped: the dev database's data folder, browser tests' screenshots. */
const SKIP_TOP = new Set(['.data', 'test-artifacts']);

/** The app files the database checks read (paths relative to the app, with forward slashes). */
export function isDatabaseInput(path: string): boolean {
  return path === 'permissions.yml' || path === 'supabase' || path.startsWith('supabase/');
}

/**
 * Hashes of the app's files (path and content): all of them (the server part) and the database
 * inputs only; a part is undefined when a symbolic link among its files makes it unsound.
 */
function appFilesHashes(appDir: string): { all: string | undefined; database: string | undefined } {
  const all = createHash('sha256');
  const database = createHash('sha256');
  let allSound = true;
  let databaseSound = true;
  const walk = (rel: string): void => {
    const abs = rel ? join(appDir, rel) : appDir;
    const entries = readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (SKIP_ANYWHERE.has(entry.name) || (!rel && SKIP_TOP.has(entry.name))) continue;
      const forDatabase = isDatabaseInput(path);
      if (entry.isDirectory()) {
        all.update(`d\0${path}\0`);
        if (forDatabase) database.update(`d\0${path}\0`);
        walk(path);
      } else if (entry.isFile()) {
        const contents = readFileSync(join(abs, entry.name));
        all.update(`f\0${path}\0${contents.length}\0`).update(contents);
        if (forDatabase) database.update(`f\0${path}\0${contents.length}\0`).update(contents);
      } else if (entry.isSymbolicLink()) {
        allSound = false;
        if (forDatabase) databaseSound = false;
      }
      // sockets, FIFOs: nothing a check reads
    }
  };
  walk('');
  return { all: allSound ? all.digest('hex') : undefined, database: databaseSound ? database.digest('hex') : undefined };
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

/** The checker and the TypeScript build the app resolves: what the source checks' findings also depend on. */
export function checkerVersion(appDir: string): string {
  return `${checker()}\0${buildOf('typescript', appDir)}`;
}

/** A package's build as the app resolves it (else as this package does). */
function buildOf(name: string, appDir: string): string {
  return identify(name, resolveFrom(name, appDir));
}

/** A package's build as this package resolves it (the parsers the matrix compiler imports). */
function ownBuildOf(name: string): string {
  try {
    return identify(name, createRequire(import.meta.url).resolve(name));
  } catch {
    return `${name}: none`;
  }
}

function identify(name: string, resolved: string | undefined): string {
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
  const files = appFilesHashes(appDir);
  const key = (part: CachedPart, inputs: string | undefined, builds: string[]) =>
    inputs === undefined
      ? undefined
      : createHash('sha256')
          .update(`xms-check-findings 2\0${part}\0${checker()}\0${builds.join('\0')}\0${inputs}`)
          .digest('hex')
          .slice(0, 32);
  return {
    server: key('server', files.all, [buildOf('typescript', appDir)]),
    pglite: key('pglite', files.database, [buildOf('@electric-sql/pglite', appDir), ownBuildOf('libpg-query'), ownBuildOf('yaml')]),
  };
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
