/**
 * What `npm run dev` does before the server starts (src/server/dev.mjs, src/server/dev-server.ts),
 * each step skipped when its inputs have not changed since it last ran:
 *
 *   compileIfChanged()   runs `xms compile` only when permissions.yml, the migrations, the compiled
 *                        files or the compiler differ from a state seen right after a compile
 *   openDevDatabase()    the migrated database, opened once as the runtime role xms_app. PGlite: an
 *                        empty data folder starts as a copy of a migrated folder cached under the
 *                        migrations' content hash, else from the migrated folder create-xms-app ships
 *                        for the longest run of leading migrations byte-identical to its preset's (built
 *                        by its `npm run build`; the owner then applies the rest); a data folder already
 *                        migrated with the same migrations is opened as it is; otherwise the owner
 *                        migrates it first.
 *
 * Stamps are content-addressed (node_modules/.cache/xms-dev/), so a stale one can only mean "run it".
 * `npm run db:migrate` stays the way to migrate without starting the server.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { authKeyFromUrl, newAuthKey, readFolderKey, registerAuthKey, writeFolderKey } from './auth-key.js';
import { openDatabase, type Database } from './client.js';
import { listMigrations, migrate, MIGRATIONS_DIR } from './migrate.js';

const CACHE_DIR = join('node_modules', '.cache', 'xms-dev');
const GENERATED_DIR = join('src', 'generated');
/** Written into a PGlite data folder after it was migrated: the hash of the migrations applied. */
const STAMP_FILE = 'xms-migrations.sha256';

function hashFiles(hash: ReturnType<typeof createHash>, dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name);
    if (statSync(file).isFile()) hash.update(`\0${file}\0`).update(readFileSync(file));
  }
}

/** The compiler's identity: its package.json and the size and time of its files. */
function compilerIdentity(hash: ReturnType<typeof createHash>): void {
  const pkg = join('node_modules', 'create-xms-app');
  if (!existsSync(join(pkg, 'package.json'))) return;
  hash.update(readFileSync(join(pkg, 'package.json')));
  const matrix = join(pkg, 'dist', 'lib', 'matrix');
  if (!existsSync(matrix)) return;
  for (const name of readdirSync(matrix).sort()) {
    const s = statSync(join(matrix, name));
    hash.update(`${name}:${s.size}:${s.mtimeMs}`);
  }
}

/** Hash of everything `xms compile` reads and writes. */
export function compileStateHash(): string {
  const hash = createHash('sha256');
  hash.update(existsSync('permissions.yml') ? readFileSync('permissions.yml') : 'no permissions.yml');
  hashFiles(hash, MIGRATIONS_DIR);
  hashFiles(hash, GENERATED_DIR);
  compilerIdentity(hash);
  return hash.digest('hex');
}

/**
 * Runs `xms compile` unless this exact state was already seen right after a compile (the compiler is a
 * function of its inputs, so it would write nothing). Returns false when the compile failed (it
 * printed why).
 */
export function compileIfChanged(): boolean {
  const stamps = join(CACHE_DIR, 'compiled');
  if (existsSync(join(stamps, compileStateHash()))) return true;
  const xms = join('node_modules', '.bin', process.platform === 'win32' ? 'xms.cmd' : 'xms');
  const result = spawnSync(xms, ['compile'], { stdio: 'inherit' });
  if (result.status !== 0) return false;
  mkdirSync(stamps, { recursive: true });
  writeFileSync(join(stamps, compileStateHash()), '');
  return true;
}

/** The installed PGlite's name and version: a data folder is only reused by the PGlite that wrote it. */
function pgliteIdentity(): string {
  let dir = dirname(createRequire(resolve('package.json')).resolve('@electric-sql/pglite'));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const { name, version } = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string; version?: string };
      if (name === '@electric-sql/pglite') return `${name}@${version}`;
    }
    if (dirname(dir) === dir) throw new Error('cannot find the version of @electric-sql/pglite');
    dir = dirname(dir);
  }
}

/**
 * The key of each run of leading migrations: keys[i] hashes the PGlite version and the names and
 * contents of the first i + 1 migrations, in order.
 */
export function migrationKeys(dir = MIGRATIONS_DIR): string[] {
  const hash = createHash('sha256').update(pgliteIdentity());
  return listMigrations(dir).map((m) => hash.update(`\0${m.version}_${m.name}\0`).update(readFileSync(m.file)).copy().digest('hex'));
}

/** Hash of the migrations (names and contents) and of the PGlite version that applies them. */
export function migrationsHash(dir = MIGRATIONS_DIR, keys = migrationKeys(dir)): string {
  return keys.at(-1) ?? createHash('sha256').update(pgliteIdentity()).digest('hex');
}

/**
 * The migrated data folders create-xms-app ships for its presets, each named by its migration key:
 * a brotli-compressed JSON index line ([path, size] per file, size null for a folder), then the
 * files' bytes in that order.
 */
const SHIPPED_DIR = join('node_modules', 'create-xms-app', 'dist', 'pglite-snapshots');

/**
 * Fills an empty dataDir from the shipped folder of the longest run of leading migrations that has
 * one; returns how many migrations it holds (0: none fits, or dataDir is not empty).
 */
function restoreShipped(dataDir: string, keys: string[]): number {
  if (dataDir.includes('://')) return 0; // not a folder (memory://)
  let held = keys.length;
  while (held > 0 && !existsSync(join(SHIPPED_DIR, `${keys[held - 1]}.br`))) held--;
  if (!held) return 0;
  // written beside dataDir and renamed into place: never half a folder
  const tmp = `${resolve(dataDir)}.${process.pid}.tmp`;
  try {
    const data = brotliDecompressSync(readFileSync(join(SHIPPED_DIR, `${keys[held - 1]}.br`)));
    const end = data.indexOf(0x0a);
    const entries = JSON.parse(data.subarray(0, end).toString('utf8')) as [string, number | null][];
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    let at = end + 1;
    for (const [path, size] of entries) {
      if (path.split('/').includes('..')) throw new Error(`bad path in a shipped PGlite folder: ${path}`);
      const target = join(tmp, path);
      if (size === null) mkdirSync(target, { recursive: true });
      else writeFileSync(target, data.subarray(at, (at += size)));
    }
    if (existsSync(dataDir)) rmdirSync(dataDir); // fails unless empty: a folder with files is left alone
    mkdirSync(dirname(resolve(dataDir)), { recursive: true });
    renameSync(tmp, dataDir);
    return held;
  } catch {
    // an unreadable shipped folder or a data folder that is not empty: migrate as without one
    rmSync(tmp, { recursive: true, force: true });
    return 0;
  }
}

export interface DevDatabaseOptions {
  /** DATABASE_URL: PostgreSQL (migrated by the owner, every start: the server may be shared) */
  url?: string;
  /** PGlite data folder (default: PGLITE_DATA_DIR or .data/pglite) */
  dataDir?: string;
  log?: (line: string) => void;
}

/** Migrates what needs it, then opens the database as the runtime role (never the owner). */
export async function openDevDatabase(options: DevDatabaseOptions = {}): Promise<Database> {
  const log = options.log ?? (() => {});
  if (options.url) {
    const owner = await openDatabase({ as: 'owner' });
    // the key the URL's password gives (src/db/auth-key.ts); a login without a password (local trust
    // authentication) gets a new one for this start
    const authKey = authKeyFromUrl(options.url) ?? newAuthKey();
    try {
      for (const version of await migrate(owner, { authKey })) log(`applied migration ${version}`);
    } finally {
      await owner.close();
    }
    return openDatabase({ url: options.url, authKey });
  }
  const dataDir = options.dataDir ?? process.env.PGLITE_DATA_DIR ?? join('.data', 'pglite');
  const keys = migrationKeys();
  const key = migrationsHash(MIGRATIONS_DIR, keys);
  const stamp = join(dataDir, STAMP_FILE);
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  // the folder's own auth key (src/db/auth-key.ts): a new folder, copied or shipped, has none (they
  // are made without one, so that no two folders share a key); the owner registers it, with the
  // migrations when they run, and it is kept in the folder last (the cached copy below goes without)
  const newKey = readFolderKey(dataDir) ? undefined : newAuthKey();
  let registered = false;
  if (fresh || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== key) {
    const snapshot = join(CACHE_DIR, 'pglite', key);
    if (fresh && existsSync(join(snapshot, 'PG_VERSION'))) {
      cpSync(snapshot, dataDir, { recursive: true });
    } else if (!fresh || restoreShipped(dataDir, keys) < keys.length) {
      // the owner (PGlite's superuser) migrates; it is closed before the server opens the folder
      const owner = await openDatabase({ as: 'owner', dataDir });
      try {
        for (const version of await migrate(owner, { authKey: newKey })) log(`applied migration ${version}`);
      } finally {
        await owner.close();
      }
      registered = true;
      // keep the migrated folder for the next empty one (write-then-rename: never half a copy)
      if (fresh && !existsSync(snapshot)) {
        // one snapshot is kept: the folders of older migrations go
        mkdirSync(join(CACHE_DIR, 'pglite'), { recursive: true });
        for (const old of readdirSync(join(CACHE_DIR, 'pglite'))) rmSync(join(CACHE_DIR, 'pglite', old), { recursive: true, force: true });
        const tmp = `${snapshot}.${process.pid}.tmp`;
        rmSync(tmp, { recursive: true, force: true });
        cpSync(dataDir, tmp, { recursive: true });
        rmSync(join(tmp, 'postmaster.pid'), { force: true });
        try {
          renameSync(tmp, snapshot);
        } catch {
          rmSync(tmp, { recursive: true, force: true }); // another start made it first
        }
      }
    }
    writeFileSync(stamp, key);
  }
  if (newKey) {
    if (!registered) {
      const owner = await openDatabase({ as: 'owner', dataDir });
      try {
        await registerAuthKey(owner, newKey);
      } finally {
        await owner.close();
      }
    }
    writeFolderKey(dataDir, newKey);
  }
  return openDatabase({ dataDir });
}
