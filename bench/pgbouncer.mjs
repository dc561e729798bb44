// Whether Debian's pgbouncer is installed (bench/http.mjs and bench/index.mjs).
import { spawnSync } from 'node:child_process';

/** The path of the pgbouncer binary, or null. */
export function pgbouncerBinary() {
  const r = spawnSync('sh', ['-c', 'command -v pgbouncer'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}
