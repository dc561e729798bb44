/**
 * Database access for `xms check` and `xms harden`: a fresh in-memory PGlite (with migrations applied
 * one file at a time, remembering which file last created or changed each policy) or node-postgres
 * for a DATABASE_URL. The drivers are loaded from the app first (it depends on both), then from this
 * package, so the check needs nothing the app does not already have.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { newOwnedObjects, readObjects, recordMigration, type DbObject, type OwnedObjects } from './functions.js';
import type { Queryable } from './types.js';

/** Imports a package as seen from appDir (its node_modules), else from this package. */
export async function importFrom<T>(name: string, appDir: string): Promise<T> {
  for (const base of [join(appDir, 'package.json'), import.meta.url]) {
    try {
      const resolved = createRequire(base).resolve(name);
      return (await import(pathToFileURL(resolved).href)) as T;
    } catch {
      // try the next place
    }
  }
  try {
    return (await import(name)) as T;
  } catch {
    throw new MissingModuleError(name);
  }
}

/** A driver the command needs is installed neither in the project nor next to create-xms-app. */
export class MissingModuleError extends Error {
  override name = 'MissingModuleError';
  constructor(readonly module: string) {
    super(`${module} is not installed: add it to this project (npm install --save-dev ${module}) and run the command again.`);
  }
}

interface PGliteLike {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<unknown>;
  close(): Promise<void>;
  waitReady: Promise<void>;
  dumpDataDir?(compression?: 'gzip' | 'none' | 'auto'): Promise<Blob>;
}

/**
 * A fresh in-memory PGlite. A cold start runs initdb (5-10 s); the empty cluster is therefore dumped
 * once into a cache file (see cacheDir, keyed by the PGlite build) and later starts load it (~1-2 s).
 * XMS_CHECK_NO_CACHE=1 turns the cache off.
 */
export async function openPglite(appDir: string, options: { extensions?: string[] } = {}): Promise<Queryable> {
  return (await startPglite(appDir, options)).db;
}

/** A PGlite for the check: its query interface, and a dump of its data folder (for the caches). */
interface OpenedPglite {
  db: Queryable;
  dump(): Promise<Buffer | undefined>;
}

async function startPglite(appDir: string, options: { extensions?: string[]; snapshot?: Buffer } = {}): Promise<OpenedPglite> {
  const resolved = resolveFrom('@electric-sql/pglite', appDir);
  const mod = await importFrom<{ PGlite: new (options?: object) => PGliteLike }>('@electric-sql/pglite', appDir);
  // contrib extensions the migrations create (uuid-ossp, pgcrypto, citext, ...), when PGlite has them
  const extensions: Record<string, unknown> = {};
  for (const name of options.extensions ?? []) {
    const id = name.replace(/-/g, '_');
    if (!PGLITE_CONTRIB.includes(id)) continue;
    try {
      const contrib = await importFrom<Record<string, unknown>>(`@electric-sql/pglite/contrib/${id}`, appDir);
      if (contrib[id]) extensions[id] = contrib[id];
    } catch {
      // the migration will fail with PostgreSQL's own message
    }
  }
  const extra = Object.keys(extensions).length ? { extensions } : {};
  const useCache = !process.env.XMS_CHECK_NO_CACHE && resolved !== undefined;
  const key = resolved ? createHash('sha256').update(`${resolved}:${statSync(resolved).size}:${statSync(resolved).mtimeMs}`).digest('hex').slice(0, 16) : '';
  const cacheFile = join(cacheDir(appDir), `pglite-${key}.tar.gz`);
  let pg: PGliteLike | undefined;
  if (options.snapshot) {
    // a migrated snapshot that does not load is an error for the caller (it migrates from scratch)
    pg = new mod.PGlite({ loadDataDir: new Blob([new Uint8Array(options.snapshot)]), ...extra });
    await pg.waitReady;
  }
  if (!pg && useCache && existsSync(cacheFile) && ownedByMe(cacheFile)) {
    try {
      pg = new mod.PGlite({ loadDataDir: new Blob([readFileSync(cacheFile)]), ...extra });
      await pg.waitReady;
    } catch {
      pg = undefined;
    }
  }
  if (!pg) {
    pg = new mod.PGlite({ ...extra });
    await pg.waitReady;
    if (useCache && pg.dumpDataDir) {
      try {
        const blob = await pg.dumpDataDir('gzip');
        mkdirSync(dirname(cacheFile), { recursive: true, mode: 0o700 });
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, Buffer.from(await blob.arrayBuffer()), { mode: 0o600 });
        renameSync(tmp, cacheFile);
      } catch {
        // the cache is an optimisation only
      }
    }
  }
  const db = pg;
  return {
    db: {
      query: (sql, params) => db.query(sql, params ?? []),
      exec: async (sql) => {
        await db.exec(sql);
      },
      close: () => db.close(),
    },
    dump: async () => (db.dumpDataDir ? Buffer.from(await (await db.dumpDataDir('gzip')).arrayBuffer()) : undefined),
  };
}

/** The PGlite build's identity (its resolved file, size and time), '' when not resolvable. */
function pgliteKey(appDir: string): string {
  const resolved = resolveFrom('@electric-sql/pglite', appDir);
  return resolved ? `${resolved}:${statSync(resolved).size}:${statSync(resolved).mtimeMs}` : '';
}

/** The code that decides what a migrated snapshot holds: this module and ./functions (readObjects, recordMigration). */
function checkCodeHash(): string {
  const h = createHash('sha256');
  const here = dirname(fileURLToPath(import.meta.url));
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  for (const name of ['database', 'functions']) h.update(readFileSync(join(here, `${name}${ext}`)));
  return h.digest('hex');
}

interface AppliedJson {
  policyOrigin: [string, string][];
  expected: [string, { object: DbObject; file: string }][];
  changedBy: [string, string][];
  objects: [string, DbObject][];
}

/**
 * A PGlite with the migrations applied, and what applying them recorded. Checking the same
 * migrations again (only the server code or permissions.yml changed: the usual loop) starts from a
 * snapshot of the migrated database instead of replaying every migration. The snapshot is keyed by
 * the SHA-256 of every migration's path and content, the prelude, the extensions, the PGlite build and
 * the code of this module and ./functions, and is written the second time a key is seen (a one-off
 * set of migrations, like a mutation test's, costs no dump). Same trust rule as the empty-cluster
 * snapshot: only files this user owns, in a folder nobody else can write to, are loaded.
 * XMS_CHECK_NO_CACHE=1 turns it off.
 */
export async function openMigratedPglite(
  appDir: string,
  files: MigrationFile[],
  options: { extensions?: string[]; prelude?: string; relativeTo?: string } = {},
): Promise<{ db: Queryable; applied: Omit<AppliedDatabase, 'db'> }> {
  const pglite = pgliteKey(appDir);
  const useCache = !process.env.XMS_CHECK_NO_CACHE && pglite !== '';
  const h = createHash('sha256').update(pglite).update('\0').update(checkCodeHash());
  h.update('\0').update((options.extensions ?? []).join(',')).update('\0').update(options.prelude ?? '').update('\0').update(options.relativeTo ?? '');
  for (const f of files) h.update('\0').update(f.file).update('\0').update(readFileSync(f.file));
  const key = h.digest('hex').slice(0, 32);
  const dir = cacheDir(appDir);
  const snapshotFile = join(dir, `migrated-${key}.tar.gz`);
  const appliedFile = join(dir, `migrated-${key}.json`);
  const seenFile = join(dir, `migrated-${key}.seen`);

  if (useCache && existsSync(snapshotFile) && existsSync(appliedFile) && ownedByMe(snapshotFile) && ownedByMe(appliedFile)) {
    try {
      const json = JSON.parse(readFileSync(appliedFile, 'utf8')) as AppliedJson;
      const opened = await startPglite(appDir, { extensions: options.extensions, snapshot: readFileSync(snapshotFile) });
      return {
        db: opened.db,
        applied: {
          policyOrigin: new Map(json.policyOrigin),
          owned: { expected: new Map(json.expected), changedBy: new Map(json.changedBy) },
          objects: new Map(json.objects),
        },
      };
    } catch {
      // a torn or foreign entry: migrate from scratch
    }
  }

  const opened = await startPglite(appDir, { extensions: options.extensions });
  if (options.prelude) await opened.db.exec(options.prelude);
  const applied = await applyMigrations(opened.db, files, { relativeTo: options.relativeTo });
  if (useCache && !applied.failure) {
    try {
      if (existsSync(seenFile)) {
        const snapshot = await opened.dump();
        if (snapshot) {
          const json: AppliedJson = {
            policyOrigin: [...applied.policyOrigin],
            expected: [...applied.owned.expected],
            changedBy: [...applied.owned.changedBy],
            objects: [...applied.objects],
          };
          writePrivate(appliedFile, JSON.stringify(json));
          writePrivate(snapshotFile, snapshot);
          rmSync(seenFile, { force: true });
          pruneMigrated(dir);
        }
      } else {
        writePrivate(seenFile, '');
      }
    } catch {
      // the cache is an optimisation only
    }
  }
  return { db: opened.db, applied };
}

export function writePrivate(file: string, contents: string | Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, contents, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Keeps the newest 4 migrated snapshots (and 50 seen-markers) of a cache folder. */
function pruneMigrated(dir: string): void {
  const byAge = (suffix: string) =>
    readdirSync(dir)
      .filter((f) => f.startsWith('migrated-') && f.endsWith(suffix))
      .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
  for (const { f } of byAge('.tar.gz').slice(4)) {
    rmSync(join(dir, f), { force: true });
    rmSync(join(dir, f.replace(/\.tar\.gz$/, '.json')), { force: true });
  }
  for (const { f } of byAge('.seen').slice(50)) rmSync(join(dir, f), { force: true });
}

/**
 * The app's node_modules/.cache/xms-check when it has node_modules, else a per-user folder in the
 * temp dir. A snapshot is loaded only when this user owns it: a database planted by someone else
 * could make the check pass.
 */
export function cacheDir(appDir: string): string {
  if (existsSync(join(appDir, 'node_modules'))) return join(appDir, 'node_modules', '.cache', 'xms-check');
  return join(tmpdir(), `xms-check-cache-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`);
}

export function ownedByMe(file: string): boolean {
  if (typeof process.getuid !== 'function') return true;
  const st = statSync(file);
  return st.uid === process.getuid() && (st.mode & 0o022) === 0 && (statSync(dirname(file)).mode & 0o022) === 0;
}

export function resolveFrom(name: string, appDir: string): string | undefined {
  for (const base of [join(appDir, 'package.json'), import.meta.url]) {
    try {
      return createRequire(base).resolve(name);
    } catch {
      // next
    }
  }
  return undefined;
}

export async function openPostgres(appDir: string, url: string): Promise<Queryable> {
  const mod = await importFrom<{ default: { Client: new (o: object) => PgClientLike } }>('pg', appDir);
  const client = new mod.default.Client({ connectionString: url });
  await client.connect();
  return {
    query: async (sql, params) => ({ rows: (await client.query(sql, params ?? [])).rows }),
    exec: async (sql) => {
      await client.query(sql);
    },
    close: () => client.end(),
  };
}

interface PgClientLike {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<{ rows: never[] }>;
  end(): Promise<void>;
}

/** Contrib extensions PGlite ships (@electric-sql/pglite/contrib/<name>). */
const PGLITE_CONTRIB = [
  'amcheck', 'bloom', 'btree_gin', 'btree_gist', 'citext', 'cube', 'dict_int', 'earthdistance', 'fuzzystrmatch',
  'hstore', 'intarray', 'isn', 'lo', 'ltree', 'pg_trgm', 'pgcrypto', 'seg', 'tablefunc', 'tcn', 'unaccent', 'uuid_ossp',
];

/** Extensions the migrations create (`create extension [if not exists] "name"`). */
export function extensionsIn(files: MigrationFile[]): string[] {
  const names = new Set<string>();
  for (const f of files) {
    for (const m of readFileSync(f.file, 'utf8').matchAll(/create\s+extension\s+(?:if\s+not\s+exists\s+)?"?([A-Za-z0-9_-]+)"?/gi)) names.add(m[1]!.toLowerCase());
  }
  return [...names].sort();
}

export interface MigrationFile {
  version: string;
  name: string;
  file: string;
}

/** supabase/migrations/<version>_<name>.sql in version order (the one listing: lib/matrix/migrations.ts). */
export { listMigrations as migrationFiles } from '../matrix/migrations.js';

export interface PolicyRow {
  schemaname: string;
  tablename: string;
  policyname: string;
  permissive: string;
  roles: string[] | string;
  cmd: string;
  qual: string | null;
  with_check: string | null;
}

export const POLICIES_SQL = `
  select schemaname::text, tablename::text, policyname::text, permissive::text, roles::text[] as roles, cmd::text, qual, with_check
    from pg_catalog.pg_policies
   order by 1, 2, 3`;

export function policyKey(p: PolicyRow): string {
  return `${p.schemaname}.${p.tablename}.${p.policyname}`;
}

function rolesOf(p: PolicyRow): string[] {
  const r = p.roles;
  if (Array.isArray(r)) return [...r].sort();
  // '{a,b}' from drivers that do not parse arrays
  return String(r).replace(/^\{|\}$/g, '').split(',').filter(Boolean).sort();
}

/** A policy's definition, formatting-independent (deparsed by PostgreSQL), as one comparable string. */
export function policyDefinition(p: PolicyRow): string {
  const norm = (s: string | null) => (s === null ? '-' : s.replace(/\s+/g, ' ').trim());
  return `${p.permissive.toLowerCase()} ${p.cmd.toLowerCase()} to ${rolesOf(p).join(',')} using ${norm(p.qual)} check ${norm(p.with_check)}`;
}

export interface AppliedDatabase {
  db: Queryable;
  /** policy key -> the migration file that last created or changed it */
  policyOrigin: Map<string, string>;
  /** functions, triggers and event triggers the xms migrations own, and who changed them since */
  owned: OwnedObjects;
  /** the functions, triggers and event triggers after the last migration applied */
  objects: Map<string, DbObject>;
  /** the first migration that failed, if any (later ones were not applied) */
  failure?: { file: string; message: string };
}

/**
 * Applies every migration of dir to db in order (each in its own transaction, as the app's migrator),
 * recording after each file which policies it created or changed and what it did to the functions,
 * triggers and event triggers (./functions.ts).
 */
export async function applyMigrations(
  db: Queryable,
  files: MigrationFile[],
  options: { relativeTo?: string } = {},
): Promise<Omit<AppliedDatabase, 'db'>> {
  const policyOrigin = new Map<string, string>();
  let previous = new Map<string, string>();
  const owned = newOwnedObjects();
  let objects = await readObjects(db);
  for (const m of files) {
    const label = options.relativeTo ? m.file.slice(options.relativeTo.length + 1) : m.file;
    try {
      await db.exec(`begin;\n${readFileSync(m.file, 'utf8')}\n;\nreset role;\ncommit;`);
    } catch (error) {
      await db.exec('rollback').catch(() => {});
      return { policyOrigin, owned, objects, failure: { file: label, message: (error as Error).message } };
    }
    const now = new Map((await db.query<PolicyRow>(POLICIES_SQL)).rows.map((p) => [policyKey(p), policyDefinition(p)]));
    for (const [key, def] of now) if (previous.get(key) !== def) policyOrigin.set(key, label);
    previous = now;
    const objectsNow = await readObjects(db);
    recordMigration(owned, label, objects, objectsNow);
    objects = objectsNow;
  }
  return { policyOrigin, owned, objects };
}
