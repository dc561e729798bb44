/**
 * The migrator: applies supabase/migrations/<version>_<name>.sql in version order, once each, each in
 * its own transaction, recording it in supabase_migrations.schema_migrations - the ledger the Supabase
 * CLI uses, so `supabase db push` and this migrator agree on what is applied.
 *
 *   tsx src/db/migrate.ts            (npm run db:migrate compiles permissions.yml first)
 *
 * Connects as the owner: PGlite's superuser, or MIGRATION_DATABASE_URL / DATABASE_URL. With
 * XMS_APP_PASSWORD set, it also sets the password of the runtime login role xms_app and registers
 * the auth key the server derives from it (src/db/auth-key.ts): without it the server refuses to start.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { authKeyFromPassword, newAuthKey, readFolderKey, registerAuthKey, writeFolderKey } from './auth-key.js';
import { defaultPgliteDataDir, openDatabase, type Database } from './client.js';

export const MIGRATIONS_DIR = 'supabase/migrations';

export interface Migration {
  version: string;
  name: string;
  file: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .map((f) => /^(\d+)_(.+)\.sql$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: m[1]!, name: m[2]!, file: join(dir, m[0]) }))
    .sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  // a migration is known by its version (as the Supabase CLI knows it): of two files sharing one,
  // the second would never be applied, silently
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new Error(`two migrations share version ${migrations[i]!.version}: ${migrations[i - 1]!.file} and ${migrations[i]!.file}; give one a new version`);
    }
  }
  return migrations;
}

const LEDGER = `
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text not null primary key,
  statements text[],
  name text
);`;

/** Applies the pending migrations; returns the versions applied. */
export async function migrate(
  db: Database,
  options: {
    dir?: string;
    log?: (line: string) => void;
    /** registers this auth key (src/db/auth-key.ts) once migrated; default: XMS_APP_PASSWORD's, if set */
    authKey?: string;
  } = {},
): Promise<string[]> {
  const log = options.log ?? (() => {});
  await db.exec(LEDGER);
  const applied: string[] = [];
  for (const m of listMigrations(options.dir ?? MIGRATIONS_DIR)) {
    const sql = readFileSync(m.file, 'utf8');
    const done = await db.transaction(async (tx) => {
      // one migrator at a time; re-read the ledger under the lock
      await tx.query(`select pg_advisory_xact_lock(8364021)`);
      const seen = await tx.query(`select 1 from supabase_migrations.schema_migrations where version = $1`, [m.version]);
      if (seen.rows.length) return false;
      await tx.exec(sql);
      await tx.exec('reset role');
      await tx.query(`insert into supabase_migrations.schema_migrations (version, statements, name) values ($1, $2, $3)`, [
        m.version,
        [sql],
        m.name,
      ]);
      return true;
    });
    if (done) {
      applied.push(m.version);
      log(`applied ${m.version}_${m.name}`);
    }
  }
  const password = process.env.XMS_APP_PASSWORD;
  if (password && db.kind === 'postgres') {
    const r = await db.query<{ sql: string }>(`select format('alter role xms_app login password %L', $1::text) as sql`, [password]);
    await db.exec(r.rows[0]!.sql);
  }
  const authKey = options.authKey ?? (password && db.kind === 'postgres' ? authKeyFromPassword(password) : undefined);
  if (authKey) await registerAuthKey(db, authKey);
  return applied;
}

async function main(): Promise<void> {
  const db = await openDatabase({ as: 'owner' });
  try {
    // PGlite: a data folder without its own auth key gets one (src/db/auth-key.ts), kept in the folder
    const dataDir = db.kind === 'pglite' ? defaultPgliteDataDir() : undefined;
    const authKey = dataDir && !readFolderKey(dataDir) ? newAuthKey() : undefined;
    const applied = await migrate(db, { dir: resolve(MIGRATIONS_DIR), log: (l) => console.log(l), authKey });
    if (dataDir && authKey) writeFolderKey(dataDir, authKey);
    console.log(applied.length ? `${applied.length} migration(s) applied` : 'database is up to date');
  } finally {
    await db.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(`migration failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
