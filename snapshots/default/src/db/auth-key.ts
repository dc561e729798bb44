/**
 * The auth key: what lets the server's own auth code, and no other SQL on the same connection, act as
 * the auth subsystem (xms_auth). See supabase/migrations/20240101000397_xms_auth_key.sql for why a
 * role switch alone cannot tell them apart.
 *
 * The owner registers the key's SHA-256 (app_private.auth_keys); src/db/request.ts hands the key to
 * PostgreSQL, as a bind parameter, for the auth subsystem's statements only. Where the key comes from:
 *   PostgreSQL  derived from the password the server logs in with (DATABASE_URL's, as xms_app), so a
 *               deployment has no second secret to keep: `src/db/migrate.ts` registers it when it sets
 *               that password (XMS_APP_PASSWORD), and changing the password changes the key.
 *   PGlite      a random key kept in the data folder (AUTH_KEY_FILE), registered when the folder is
 *               migrated or first opened by `npm run dev` (src/db/dev-data.ts).
 * The key never appears in SQL text, logs or the audit trail; with it alone one cannot log in to the
 * database, and the password is not recoverable from it.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Queryable } from './client.js';

/** A PGlite data folder's key (a file inside the folder, like PG_VERSION: copied and removed with it). */
export const AUTH_KEY_FILE = 'xms-auth.key';

/** The key a PGlite data folder keeps, or null when it has none yet. */
export function readFolderKey(dataDir: string): string | null {
  const file = join(dataDir, AUTH_KEY_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : null;
}

/** Keeps a folder's key once the owner registered it (readable by this user only). */
export function writeFolderKey(dataDir: string, key: string): void {
  writeFileSync(join(dataDir, AUTH_KEY_FILE), key, { mode: 0o600 });
}

/** The key of a server that logs in with this password (HMAC-SHA256, so the key does not reveal it). */
export function authKeyFromPassword(password: string): string {
  return createHmac('sha256', password).update('xms auth key v1').digest('base64url');
}

/** The key of a server that connects with this URL, or null when the URL carries no password. */
export function authKeyFromUrl(url: string): string | null {
  let password: string;
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    return null;
  }
  const fromEnv = process.env.PGPASSWORD;
  return password ? authKeyFromPassword(password) : fromEnv ? authKeyFromPassword(fromEnv) : null;
}

/** A new random key (PGlite data folders, tests). */
export function newAuthKey(): string {
  return randomBytes(32).toString('base64url');
}

export function authKeyHash(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * As the owner: makes `key` the one registered auth key (a key registered before, of an old password
 * or folder, stops working).
 */
export async function registerAuthKey(owner: Queryable, key: string): Promise<void> {
  const hash = authKeyHash(key);
  await owner.query('delete from app_private.auth_keys where key_hash <> $1', [hash]);
  await owner.query('insert into app_private.auth_keys (key_hash) values ($1) on conflict do nothing', [hash]);
}
