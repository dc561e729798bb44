/**
 * openDatabase(): the embedded PostgreSQL (PGlite) when DATABASE_URL is unset, else node-postgres.
 *
 * Both sides offer the same small interface. The server connects as the runtime login role
 * `xms_app` (not superuser, not BYPASSRLS, owns nothing, NOINHERIT): it can do nothing until a
 * request transaction switches to a request role (src/db/request.ts). Migrations connect as the
 * owner (`{ as: 'owner' }`: PGlite's superuser, or MIGRATION_DATABASE_URL / DATABASE_URL).
 * A runtime connection carries the auth key of src/db/auth-key.ts (`authKey`), which only the auth
 * subsystem's transactions hand to PostgreSQL.
 */
import type { PGlite } from '@electric-sql/pglite';
import { authKeyFromUrl, readFolderKey } from './auth-key.js';
import { databasePoolMax } from '../config.js';
import type { Pool, PoolClient } from 'pg';

export interface QueryResult<T> {
  rows: T[];
  /** rows returned, or rows affected by INSERT/UPDATE/DELETE */
  rowCount: number;
}

export interface Queryable {
  /** One statement, with $1... parameters. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** Several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * node-postgres inside a transaction only: `COPY ... FROM STDIN` fed from data as it is produced
   * (backpressure: a slow server slows the producer); resolves to the rows copied. A producer that
   * throws aborts the COPY (the transaction then only rolls back). PGlite has no COPY FROM STDIN
   * (its COPY from a blob is a server-side file read, which needs pg_read_server_files).
   */
  copyFrom?(sql: string, data: AsyncIterable<string>): Promise<number>;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** the auth key (src/db/auth-key.ts) the auth subsystem's transactions present; null: none known */
  readonly authKey: string | null;
  /**
   * BEGIN; fn(tx); COMMIT, or ROLLBACK when fn throws (the error is rethrown). `enter`: statements
   * without parameters run right after BEGIN, sent with it in one round trip (`set local role ...`);
   * fn gets the rows of the last of them (`entered`, empty when it returns none). `first`: one
   * statement with parameters run after them, in the same round trip (its parameters never enter a
   * statement's text); fn then gets its rows. With `first`, `enter` must be ONE statement.
   */
  transaction<T>(fn: (tx: Queryable, entered: Record<string, unknown>[]) => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
}

export interface TransactionOptions {
  enter?: string;
  first?: { text: string; values: unknown[] };
}

export interface OpenOptions {
  /** default: process.env.DATABASE_URL (owner: MIGRATION_DATABASE_URL, then DATABASE_URL) */
  url?: string;
  /** PostgreSQL: the pool's size; default: DATABASE_POOL_MAX (src/config.ts), else 10 */
  poolMax?: number;
  /** PGlite data folder; default: process.env.PGLITE_DATA_DIR or .data/pglite; 'memory://' for none */
  dataDir?: string;
  /** PGlite: start from a dumpDataDir() snapshot instead of a folder (tests) */
  loadDataDir?: Blob | File;
  /** 'app' (default): the runtime role xms_app; 'owner': the role that runs migrations */
  as?: 'app' | 'owner';
  /**
   * the auth key (src/db/auth-key.ts); default: PostgreSQL derives it from the URL's password, PGlite
   * reads the data folder's AUTH_KEY_FILE
   */
  authKey?: string;
}

export async function openDatabase(options: OpenOptions = {}): Promise<Database> {
  const as = options.as ?? 'app';
  const url =
    options.url ??
    (as === 'owner' ? process.env.MIGRATION_DATABASE_URL || process.env.DATABASE_URL : process.env.DATABASE_URL) ??
    undefined;
  if (url) return openPostgres(url, options.authKey ?? authKeyFromUrl(url), options.poolMax ?? databasePoolMax());
  return openPglite(options, as);
}

/** The PGlite data folder when none is given: PGLITE_DATA_DIR, else .data/pglite. */
export function defaultPgliteDataDir(): string {
  return process.env.PGLITE_DATA_DIR ?? '.data/pglite';
}

async function openPglite(options: OpenOptions, as: 'app' | 'owner'): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const dataDir = options.loadDataDir ? undefined : options.dataDir ?? defaultPgliteDataDir();
  if (dataDir && !dataDir.includes('://')) {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dataDir, { recursive: true });
  }
  const pg: PGlite = new PGlite({
    ...(dataDir ? { dataDir } : {}),
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
    // the superuser runs migrations; the server logs in as xms_app, which must exist (migrate first)
    ...(as === 'app' ? { username: 'xms_app' } : {}),
  });
  await pg.waitReady;
  const authKey = options.authKey ?? (as === 'app' && dataDir && !dataDir.includes('://') ? readFolderKey(dataDir) : null);
  return pgliteDatabase(pg, authKey);
}

/** Wraps an open PGlite instance (tests use it to keep the instance for dumpDataDir()). */
export function pgliteDatabase(pg: PGlite, authKey: string | null = null): Database & { pglite: PGlite } {
  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async query<T>(sql: string, params: unknown[] = []) {
      const r = await q.query<T>(sql, params);
      return { rows: r.rows, rowCount: r.fields.length > 0 ? r.rows.length : (r.affectedRows ?? 0) };
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
  });
  const base = wrap(pg);
  const transaction: Database['transaction'] = (fn, options) =>
    pg.transaction(async (tx) => {
      // one process, no round trips to save: in order
      const results = options?.enter ? await tx.exec(options.enter) : [];
      const first = options?.first ? (await tx.query(options.first.text, options.first.values)).rows : undefined;
      return fn(wrap(tx), (first ?? results.at(-1)?.rows ?? []) as Record<string, unknown>[]);
    });
  return {
    kind: 'pglite',
    authKey,
    pglite: pg,
    query: base.query,
    exec: base.exec,
    transaction,
    async close() {
      if (!pg.closed) await pg.close();
    },
  };
}

async function openPostgres(url: string, authKey: string | null, poolMax: number): Promise<Database> {
  const pgModule = await import('pg');
  const PoolCtor = (pgModule.default?.Pool ?? (pgModule as unknown as { Pool: typeof Pool }).Pool) as typeof Pool;
  const pool: Pool = new PoolCtor({ connectionString: url, max: poolMax });
  // an idle client's error (server restart) must not crash the process
  pool.on('error', () => {});
  const wrap = (c: Pool | PoolClient): Queryable => ({
    async query<T>(sql: string, params: unknown[] = []) {
      const r = await c.query(sql, params);
      const rowCount = r.rowCount ?? r.rows.length;
      return { rows: movedRows(r) as T[], rowCount };
    },
    async exec(sql: string) {
      await c.query(sql);
    },
  });
  const wrapClient = (client: PoolClient): Queryable => ({
    ...wrap(client),
    async copyFrom(sql: string, data: AsyncIterable<string>) {
      const [{ from }, { pipeline }, { Readable }] = await Promise.all([import('pg-copy-streams'), import('node:stream/promises'), import('node:stream')]);
      const copy = client.query(from(sql));
      await pipeline(Readable.from(data, { objectMode: false }), copy);
      return copy.rowCount;
    },
  });
  const base = wrap(pool);
  return {
    kind: 'postgres',
    authKey,
    query: base.query,
    exec: base.exec,
    async transaction<T>(fn: (tx: Queryable, entered: Record<string, unknown>[]) => Promise<T>, options?: TransactionOptions) {
      return inTransaction(pool, async (client) => {
        // one round trip: a simple-protocol message with BEGIN and the statements entering the
        // transaction's role (several statements answer with one result each), or, with a first
        // statement, the pipeline of pipelinedBegin()
        const begun: unknown = options?.first
          ? await pipelinedBegin(pgModule, client, options.enter, options.first)
          : await client.query(options?.enter ? `begin; ${options.enter}` : 'begin');
        const result = await fn(wrapClient(client), takeRows((Array.isArray(begun) ? begun : [begun]) as PgResult[], -1));
        await client.query('commit');
        return result;
      });
    },
    async close() {
      await pool.end();
    },
  };
}

interface PgResult {
  rows: Record<string, unknown>[];
}

/**
 * A result's rows, moved out of node-postgres's array, which is left empty. V8 may place such
 * arrays in its old generation from birth (it decides so per allocation site, for the whole process,
 * when it sees most of a site's objects survive; it does for node-postgres's result arrays in the
 * app's server: docs/benchmarks.md, session 35). An old array keeps the rows it holds alive until the
 * next full collection, long after the request, so every request's rows would be copied and kept;
 * moved out, they die young with the request.
 */
function movedRows(result: PgResult | undefined): Record<string, unknown>[] {
  return result?.rows.splice(0) ?? [];
}

/** The rows of results[index] (moved out, as above); node-postgres's list of results is emptied too. */
function takeRows(results: PgResult[], index: number): Record<string, unknown>[] {
  const rows = movedRows(results.at(index));
  results.length = 0;
  return rows;
}

/**
 * work(client) on a pooled connection that work leaves in a transaction it ends itself: on an error
 * the transaction is rolled back (a connection that cannot even do that is discarded, not pooled).
 */
async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  // A connection lost while no statement is running (server restart, network) is emitted on the
  // checked-out client; unheard, it would crash the process. The next statement fails anyway,
  // the transaction rolls back on the server, and the client is discarded, not pooled.
  const lost = () => {
    broken = true;
  };
  client.on('error', lost);
  try {
    return await work(client);
  } catch (err) {
    try {
      // after a failed COMMIT there is no transaction left: PostgreSQL only warns
      await client.query('rollback');
    } catch {
      broken = true;
    }
    throw err;
  } finally {
    client.off('error', lost);
    client.release(broken);
  }
}

type PgModule = typeof import('pg');
interface PgConnection {
  parse(config: { text: string }): void;
  bind(config: Record<string, never>): void;
  execute(config: Record<string, never>): void;
}

/**
 * BEGIN, the statement that enters the transaction's role (if any) and a first statement with
 * parameters, in ONE round trip: extended-protocol messages (Parse, Bind, Execute for each) written
 * together before one Sync. node-postgres sends a query only after the last one's ReadyForQuery, so
 * this is its own Query whose preparation first writes BEGIN and `enter`; the first statement's
 * parameters go as Bind values, never into a statement's text (which pg_stat_activity shows to the
 * whole login). Resolves to the results of all of them, in order; an error in any of them rejects
 * (PostgreSQL then skips the rest up to the Sync, and the caller rolls back).
 */
function pipelinedBegin(
  pgModule: PgModule,
  client: PoolClient,
  enter: string | undefined,
  first: { text: string; values: unknown[] },
): Promise<unknown> {
  const QueryCtor = (pgModule.default?.Query ?? (pgModule as unknown as { Query: PgModule['Query'] }).Query) as unknown as new (
    config: { text: string; values: unknown[]; queryMode: 'extended' },
    values: undefined,
    callback: (error: Error | null, results?: unknown) => void,
  ) => { prepare(connection: PgConnection): void };
  const unnamed = (connection: PgConnection, text: string) => {
    connection.parse({ text });
    connection.bind({});
    connection.execute({});
  };
  return new Promise((resolve, reject) => {
    const query = new QueryCtor({ text: first.text, values: first.values, queryMode: 'extended' }, undefined, (error, results) =>
      error ? reject(error) : resolve(results),
    );
    const prepare = query.prepare.bind(query);
    query.prepare = (connection) => {
      for (const text of enter ? ['begin', enter] : ['begin']) unnamed(connection, text);
      // the Query then writes its own statement and the one Sync
      prepare(connection);
    };
    client.query(query as never);
  });
}
