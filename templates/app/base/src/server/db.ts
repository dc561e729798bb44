import type { Database, Queryable } from '../db/client.js';
import { withAuthTransaction, withRequestTransaction } from '../db/request.js';
import type { Role } from '../generated/permissions.js';

/**
 * The server's only view of the database: the request-scoped API of src/db/request.ts.
 * - `asRequest(session, fn)`: one transaction with the session's role (xms_<role>) and its token
 *   in `app.session_token`; RLS decides what it sees.
 * - `asAuth(fn, { actor })`: one transaction as xms_auth (credentials, sessions, rate limits); `actor`
 *   is the user the audit log records for what it writes (every write names one).
 * There is no other handle: no handler ever holds a privileged or RLS-bypassing connection.
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

export function requestDb(db: Database): AuthDb {
  return {
    asAuth: async (fn, options) => (await withAuthTransaction(db, fn, { actorId: options?.actor })).rows,
    asAuthTx: (fn, options) => withAuthTransaction(db, fn, { actorId: options?.actor }),
    asRequest: (session, fn) => withRequestTransaction(db, { sessionToken: session.token, dbRole: session.role as Role }, fn),
    authQuery: (text, values) => withAuthTransaction(db, (tx) => tx.query<Record<string, unknown>>(text, values)),
  };
}
