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

function utcVersion(now: Date): string {
  return now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/**
 * The version for a new migration: now (UTC, `YYYYMMDDHHMMSS`), or one after the latest existing
 * version, so a new migration always sorts after every migration the app may already have applied.
 */
export function nextVersion(existing: string[], now = new Date()): string {
  const latest = existing.reduce((a, b) => (b > a ? b : a), '0');
  const candidate = utcVersion(now);
  if (candidate.length === latest.length ? candidate > latest : candidate.length > latest.length) return candidate;
  return (BigInt(latest) + 1n).toString().padStart(latest.length, '0');
}

/** `<version>_<name>.sql`, the one way migration files are named. */
export function migrationFileName(version: string, name: string): string {
  return `${version}_${name}.sql`;
}

/** The file name of a new migration `name` after `existing` (versions or listed migrations). */
export function newMigrationFileName(existing: (string | { version: string })[], name: string, now?: Date): string {
  return migrationFileName(nextVersion(existing.map((m) => (typeof m === 'string' ? m : m.version)), now), name);
}
