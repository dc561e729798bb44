/** A finding of `xms check`. */
export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  /** stable id, e.g. DB001-rls-not-forced (documented in the README) */
  id: string;
  severity: Severity;
  /** what it is about: a table, function, role, route, or file:line */
  object: string;
  message: string;
  /** how to fix it */
  fix: string;
}

export interface Report {
  appDir: string;
  /** where the database checks ran */
  database: 'pglite' | 'postgres' | 'skipped';
  findings: Finding[];
  errors: number;
  warnings: number;
  /** wall-clock milliseconds */
  ms: number;
  /** check ids that ran (with or without findings) */
  ran: string[];
  /** parts whose findings came from the cache of unchanged files (./findings-cache) */
  cached?: Array<'server' | 'pglite'>;
}

export interface CheckOptions {
  /** DATABASE_URL to check (default: process.env.DATABASE_URL, else a fresh PGlite with the migrations). */
  databaseUrl?: string;
  /** Skip the database checks (repo and server checks only). */
  skipDatabase?: boolean;
  /** Only run these groups. */
  groups?: Array<'db' | 'server' | 'repo'>;
}

/** The minimal database interface the checks need (PGlite and node-postgres both fit). */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}
