/**
 * The one request-scoped database API (the only database handle a route handler gets).
 *
 * withRequestTransaction(db, { sessionToken, dbRole }, fn) opens ONE transaction, switches to the
 * request role with SET LOCAL ROLE (xms_<role>, or xms_anon without a session), puts the caller's
 * opaque session token in the transaction-local setting app.session_token, runs fn(tx), then commits
 * (or rolls back when fn throws). Identity is derived in the database from the token's SHA-256
 * (app.current_user_id() / current_tenant_id()); RLS decides what the transaction sees. Setting
 * another value later (app.tenant_id, a guessed token) gains nothing.
 *
 * withAuthTransaction(db, fn, { actorId }) is the same for the auth subsystem role xms_auth
 * (credentials, sessions, rate limits). Only the auth module uses it. The auth subsystem acts before a
 * session exists (sign-up, log-in) or for someone else (an admin revoking a member's sessions), so it
 * names the actor the audit trigger records (app.actor_id, honoured only for xms_auth; see
 * nameAuditActor).
 */
import { createHash } from 'node:crypto';
import type { Database, Queryable } from './client.js';
import { isRole, type Role } from '../generated/permissions.js';

export interface RequestIdentity {
  /** the opaque session token from the cookie, or null without a session */
  sessionToken: string | null;
  /** the matrix role of the session (`member`, `admin`, ...); 'anon' or null without a session */
  dbRole: Role | 'anon' | null;
}

export class RequestRoleError extends Error {
  override name = 'RequestRoleError';
}

/** The PostgreSQL role of a matrix role; unknown roles are refused, never interpolated. */
export function requestRoleName(dbRole: string | null): string {
  if (dbRole === null || dbRole === 'anon') return 'xms_anon';
  if (!isRole(dbRole)) throw new RequestRoleError(`unknown request role "${dbRole}"`);
  return `xms_${dbRole}`;
}

/** How sessions are stored: SHA-256 of the token's UTF-8 bytes (app_private.sessions.token_hash). */
export function hashSessionToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

async function enter(tx: Queryable, role: string, token: string | null): Promise<void> {
  // role comes from the fixed list above: safe to quote as an identifier
  await tx.query(`set local role "${role}"`);
  await tx.query(`select set_config('app.session_token', $1, true)`, [token ?? '']);
}

/**
 * Names the user the audit log records as the actor of the rest of this xms_auth transaction
 * (transaction-local). audit.log_changes() honours app.actor_id only when the transaction runs as
 * xms_auth: in a request transaction it changes nothing (the actor is the session's user).
 */
export async function nameAuditActor(tx: Queryable, userId: string): Promise<void> {
  await tx.query(`select set_config('app.actor_id', $1::uuid::text, true)`, [userId]);
}

export async function withRequestTransaction<T>(
  db: Database,
  identity: RequestIdentity,
  fn: (tx: Queryable) => Promise<T>,
): Promise<T> {
  const role = identity.sessionToken ? requestRoleName(identity.dbRole) : 'xms_anon';
  return db.transaction(async (tx) => {
    await enter(tx, role, identity.sessionToken);
    return fn(tx);
  });
}

export async function withAuthTransaction<T>(
  db: Database,
  fn: (tx: Queryable) => Promise<T>,
  options: { sessionToken?: string | null; actorId?: string } = {},
): Promise<T> {
  return db.transaction(async (tx) => {
    await enter(tx, 'xms_auth', options.sessionToken ?? null);
    if (options.actorId) await nameAuditActor(tx, options.actorId);
    return fn(tx);
  });
}
