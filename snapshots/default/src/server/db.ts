import { AsyncLocalStorage } from 'node:async_hooks';
import type { Database, Queryable } from '../db/client.js';
import { AuthKeyError, withAuthTransaction, withRequestTransaction, type RequestTransaction } from '../db/request.js';
import { ConfigError, DATABASE_ROLE_FACTS_SQL, type DatabaseRoleFacts } from '../config.js';
import type { Role } from '../generated/permissions.js';

/**
 * The server's only view of the database: the request-scoped API of src/db/request.ts.
 * - `asRequest(session, fn)`: one transaction with the session's role (xms_<role>) and its token
 *   in `app.session_token`; RLS decides what it sees.
 * - `asAuth(fn, { actor })`: one transaction as xms_auth (credentials, sessions, rate limits); `actor`
 *   is the user the audit log records for what it writes (every write names one).
 * There is no other handle: no handler ever holds a privileged or RLS-bypassing connection.
 *
 * Inside a protected request (src/server/app.ts runs its handler in `currentRequest`), both join the
 * request's one transaction instead of opening another: asAuth as a savepoint in which the role is
 * xms_auth, so what the auth subsystem writes for an admin (an invitation, a revoked session) commits
 * or rolls back with the request and its audit rows name the admin. A second transaction would also
 * wait on the first: PGlite has one connection, and PostgreSQL row locks would block it.
 */
export type Tx = Queryable;

export interface AuthOptions {
  /** the user who acts (audit.log actor_id of the transaction's writes) */
  actor?: string;
}

export interface AuthDb {
  /** Runs fn in one xms_auth transaction; returns the rows of the query result fn returns. */
  asAuth<T>(fn: (tx: Tx) => Promise<{ rows: T[] }>, options?: AuthOptions): Promise<T[]>;
  asAuthTx<R>(fn: (tx: Tx) => Promise<R>, options?: AuthOptions): Promise<R>;
  /** session.role is the matrix role (admin, member, ...). */
  asRequest<R>(session: { token: string; role: string }, fn: (tx: Tx) => Promise<R>): Promise<R>;
  /** Runs one statement as xms_auth (the rate limiter's store). */
  authQuery(text: string, values: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number }>;
}

/**
 * Protected requests whose transaction commits although they answer with an error: a refused second
 * factor or password must keep the rate-limit point it cost (src/routes/api/mfa.ts, account.ts), or a
 * stolen session could guess for free. The one way to do so (src/server/app.ts ends the transaction).
 * Only for handlers whose own failed writes were undone by their savepoint.
 */
export const commitsOnError = new WeakSet<object>();

/**
 * The open transaction of the protected request being handled, if any. What keeping it costs on Node
 * before 24: asyncContextWarning below.
 */
export const currentRequest = new AsyncLocalStorage<RequestTransaction>();

/**
 * What start-up (src/server/index.ts) tells the operator when this Node keeps `currentRequest` with a
 * hook on every promise, which costs a logged-in request about 7% of its throughput (measured): Node
 * before 24 without --experimental-async-context-frame (Node 22 and 23 have it), or Node 24 and later
 * started with --no-async-context-frame. Undefined when there is nothing to say. `flags`: the
 * process's own and NODE_OPTIONS's.
 */
export function asyncContextWarning(
  version: string = process.versions.node,
  flags: readonly string[] = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)],
): string | undefined {
  const major = Number.parseInt(version, 10);
  const cost = `Node ${version} keeps the request transaction's AsyncLocalStorage with a hook on every promise (about 7% of a logged-in request's throughput)`;
  if (major >= 24) return flags.includes('--no-async-context-frame') ? `${cost}: remove --no-async-context-frame` : undefined;
  // Node 22 and 23 have the flag; older ones neither have it nor would start with it
  if (major < 22) return `${cost}: run Node 24 (README.md, Deploy)`;
  return flags.includes('--experimental-async-context-frame')
    ? undefined
    : `${cost}: run Node 24, or start it with NODE_OPTIONS=--experimental-async-context-frame (README.md, Deploy)`;
}

export function requestDb(db: Database): AuthDb {
  const auth = <R>(fn: (tx: Tx) => Promise<R>, actor?: string): Promise<R> => {
    const open = currentRequest.getStore();
    return open?.open ? open.auth(fn, actor) : withAuthTransaction(db, fn, { actorId: actor });
  };
  return {
    asAuth: async (fn, options) => (await auth(fn, options?.actor)).rows,
    asAuthTx: (fn, options) => auth(fn, options?.actor),
    asRequest: (session, fn) => {
      const open = currentRequest.getStore();
      if (open?.open && open.token === session.token) return open.run(fn);
      return withRequestTransaction(db, { sessionToken: session.token, dbRole: session.role as Role }, fn);
    },
    authQuery: (text, values) => auth((tx) => tx.query<Record<string, unknown>>(text, values)),
  };
}

/**
 * What start-up checks of the runtime login (src/config.ts checkDatabaseRole), read as the auth
 * subsystem: a connection without an auth key (src/db/auth-key.ts) stops the start, saying why.
 */
export async function readDatabaseRoleFacts(db: Database): Promise<DatabaseRoleFacts> {
  try {
    const [facts] = await requestDb(db).asAuth((tx) => tx.query<DatabaseRoleFacts>(DATABASE_ROLE_FACTS_SQL));
    if (!facts) throw new ConfigError('could not read the database login role');
    return facts;
  } catch (error) {
    if (error instanceof AuthKeyError) throw new ConfigError(`refusing to start: ${error.message}`);
    throw error;
  }
}
