import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The migrations of a folder (`<version>_<name>.sql`), in version order. Light on purpose: reading
 * the list must not load the SQL parser (the compile cache keys on it before deciding to compile).
 */
export function listMigrations(dir: string): { version: string; name: string; file: string }[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .map((f) => /^(\d+)_(.+)\.sql$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: m[1]!, name: m[2]!, file: join(dir, m[0]) }))
    .sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}
