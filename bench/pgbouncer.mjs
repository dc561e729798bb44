// Whether Debian's pgbouncer is installed (bench/http.mjs and bench/index.mjs).
import { spawnSync } from 'node:child_process';

/** The path of the pgbouncer binary (PATH, then Debian's /usr/sbin, not on every user's PATH), or null. */
export function pgbouncerBinary() {
  const r = spawnSync('sh', ['-c', 'command -v pgbouncer || { test -x /usr/sbin/pgbouncer && echo /usr/sbin/pgbouncer; }'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}
