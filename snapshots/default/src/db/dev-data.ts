/**
 * What `npm run dev` does before the server starts (src/server/dev.ts, src/server/dev-server.ts),
 * each step skipped when its inputs have not changed since it last ran:
 *
 *   compileIfChanged()   runs `xms compile` only when permissions.yml, the migrations, the compiled
 *                        files or the compiler differ from a state seen right after a compile
 *   openDevDatabase()    the migrated database, opened once as the runtime role xms_app. PGlite: an
 *                        empty data folder starts as a copy of a migrated folder cached under the
 *                        migrations' content hash; a data folder already migrated with the same
 *                        migrations is opened as it is; otherwise the owner migrates it first.
 *
 * Stamps are content-addressed (node_modules/.cache/xms-dev/), so a stale one can only mean "run it".
 * `npm run db:migrate` stays the way to migrate without starting the server.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
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

/** Hash of the migrations (names and contents) and of the PGlite version that applies them. */
export function migrationsHash(dir = MIGRATIONS_DIR): string {
  const hash = createHash('sha256');
  const pglite = createRequire(resolve('package.json')).resolve('@electric-sql/pglite');
  hash.update(pglite);
  for (const m of listMigrations(dir)) hash.update(`\0${m.version}_${m.name}\0`).update(readFileSync(m.file));
  return hash.digest('hex');
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
    try {
      for (const version of await migrate(owner)) log(`applied migration ${version}`);
    } finally {
      await owner.close();
    }
    return openDatabase({ url: options.url });
  }
  const dataDir = options.dataDir ?? process.env.PGLITE_DATA_DIR ?? join('.data', 'pglite');
  const key = migrationsHash();
  const stamp = join(dataDir, STAMP_FILE);
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  if (fresh || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== key) {
    const snapshot = join(CACHE_DIR, 'pglite', key);
    if (fresh && existsSync(join(snapshot, 'PG_VERSION'))) {
      cpSync(snapshot, dataDir, { recursive: true });
    } else {
      // the owner (PGlite's superuser) migrates; it is closed before the server opens the folder
      const owner = await openDatabase({ as: 'owner', dataDir });
      try {
        for (const version of await migrate(owner)) log(`applied migration ${version}`);
      } finally {
        await owner.close();
      }
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
  return openDatabase({ dataDir });
}
