import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { REPO_ROOT } from './cli.js';

const CLUSTER_SCRIPT = join(REPO_ROOT, 'scripts', 'pg-cluster.sh');

export interface PostgresServer {
  /** The admin URL (DATABASE_URL's, or the throw-away cluster's); undefined when skipped. */
  url: string | undefined;
  /** Why there is no server (printed by the suite, which then skips). */
  skipReason: string | undefined;
  /** Stops the cluster this file started, if any. */
  stop(): void;
}

/**
 * A PostgreSQL server for one test file: DATABASE_URL's when set (as in CI), else a throw-away
 * cluster started with scripts/pg-cluster.sh, else a reason to skip (no PostgreSQL binaries here).
 * In CI there is no skipping: a suite that cannot get its server fails (the error ends the file,
 * which the test runner counts as a failure).
 */
export function postgresServer(label: string): PostgresServer {
  const server = findPostgresServer(label);
  if (server.skipReason && process.env.CI) throw new Error(`PostgreSQL is required in CI: ${server.skipReason}`);
  return server;
}

/**
 * A PostgreSQL server of this file's own: a throw-away cluster (scripts/pg-cluster.sh) even when
 * DATABASE_URL is set, so that what the file migrates (roles are shared by every database of a
 * cluster) never meets the files holding `lock=postgres` on DATABASE_URL's server, and the file can
 * run beside them. Without PostgreSQL binaries it falls back to DATABASE_URL's server (then it may
 * overlap those files: a local set-up only, CI has the binaries); in CI a missing server is an error.
 */
export function ownPostgresServer(label: string): PostgresServer {
  const server = findPostgresServer(label, { own: true });
  if (server.skipReason && process.env.CI) throw new Error(`PostgreSQL is required in CI: ${server.skipReason}`);
  return server;
}

function findPostgresServer(label: string, { own = false } = {}): PostgresServer {
  if (process.env.DATABASE_URL && !own) return { url: process.env.DATABASE_URL, skipReason: undefined, stop() {} };
  const hasPg = spawnSync('sh', ['-c', 'command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl'], { stdio: 'ignore' }).status === 0;
  if (!hasPg && process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, skipReason: undefined, stop() {} };
  if (!hasPg) return { url: undefined, skipReason: 'DATABASE_URL is unset and pg_ctl is not installed', stop() {} };
  if (!existsSync(CLUSTER_SCRIPT)) return { url: undefined, skipReason: 'DATABASE_URL is unset and scripts/pg-cluster.sh is missing', stop() {} };
  const clusterDir = join('/tmp', `xms-${label}-pg-${process.pid}`);
  const stop = () => {
    spawnSync('bash', [CLUSTER_SCRIPT, 'stop', clusterDir], { stdio: 'ignore' });
    rmSync(clusterDir, { recursive: true, force: true });
  };
  try {
    mkdirSync(clusterDir, { recursive: true, mode: 0o755 });
    const out = execFileSync('bash', [CLUSTER_SCRIPT, 'start', clusterDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const url = /DATABASE_URL=(\S+)/.exec(out)?.[1];
    if (!url) {
      stop();
      return { url: undefined, skipReason: `pg-cluster.sh printed no DATABASE_URL: ${out}`, stop() {} };
    }
    return { url, skipReason: undefined, stop };
  } catch (error) {
    stop();
    return { url: undefined, skipReason: `could not start a PostgreSQL cluster: ${(error as Error).message.split('\n')[0]}`, stop() {} };
  }
}

/** The URL of database `name` on the server of `base`, optionally as another login. */
export function databaseUrl(base: string, name: string, user?: string, password?: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  if (user) url.username = user;
  if (password) url.password = password;
  return url.toString();
}

/** Runs fn with one connected client, always closed afterwards. */
export async function withClient<T>(connectionString: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
