import type { FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseCookie, serialize as serializeCookie } from 'cookie';
import type { AppConfig } from '../config.js';
import { isWellFormedToken, newToken, tokenHash } from '../security/tokens.js';
import type { Database } from '../db/client.js';
import { checkSessionOnly, openSessionRequest, type RequestTransaction, type SessionRow } from '../db/request.js';
import type { AuthDb } from '../server/db.js';

/**
 * Sessions (invariant I9).
 * - The token is 256 random bits, sent only in the `__Host-session` cookie: HttpOnly, Secure,
 *   SameSite=Lax, Path=/, no Domain. It never appears in a response body.
 * - The database stores only its SHA-256 (app_private.sessions.token_hash); the identity helpers hash
 *   `app.session_token` the same way, so the database derives the caller from the secret itself.
 * - Idle expiry (SESSION_IDLE_MINUTES, default 30) slides on use, at most once a minute (so a request
 *   writes nothing in between); absolute expiry (SESSION_ABSOLUTE_HOURS, default 12) never moves.
 * - A new token at log-in (the pre-login token is revoked: no fixation), and the session is only
 *   valid while the user's membership still has the session's role (a role change, deactivation or
 *   removal kills it; the migration also revokes on those changes). Log-out and password reset revoke.
 */
export interface Session {
  token: string;
  userId: string;
  tenantId: string | null;
  /** The database request role, e.g. xms_admin */
  dbRole: string;
  /** The matrix role, e.g. admin */
  role: string;
  /** The account's e-mail (read with the session, so /api/me needs no second auth transaction) */
  email: string | null;
  /** The user's display name, read with the session (GET /api/me answers with no statement of its own) */
  displayName: string | null;
  /** A second factor is required and not set up: the session may only enrol (src/auth/mfa.ts). */
  enrolOnly: boolean;
}

export function cookieName(config: AppConfig): string {
  // The __Host- prefix requires Secure; with COOKIE_SECURE=false (refused in production) the prefix goes.
  return config.cookieSecure ? '__Host-session' : 'session';
}

export function readSessionToken(request: FastifyRequest, config: AppConfig): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  const value = parseCookie(header)[cookieName(config)];
  return isWellFormedToken(value) ? value : undefined;
}

export function setSessionCookie(reply: FastifyReply, config: AppConfig, token: string): void {
  reply.header(
    'set-cookie',
    serializeCookie(cookieName(config), token, {
      httpOnly: true,
      secure: config.cookieSecure,
      sameSite: 'lax',
      path: '/',
      maxAge: config.sessionAbsoluteHours * 3600,
    }),
  );
}

export function clearSessionCookie(reply: FastifyReply, config: AppConfig): void {
  reply.header(
    'set-cookie',
    serializeCookie(cookieName(config), '', { httpOnly: true, secure: config.cookieSecure, sameSite: 'lax', path: '/', maxAge: 0 }),
  );
}

/** Creates a session for a user's membership and returns its token (to be put in the cookie only). */
export async function createSession(
  db: AuthDb,
  config: AppConfig,
  user: { userId: string; tenantId: string; role: string },
  userAgent?: string,
  /** the user must enrol a second factor first: the session reaches nothing else (src/auth/mfa.ts) */
  enrolOnly = false,
): Promise<string> {
  const token = newToken();
  // shown on the user's sessions page only: printable characters, bounded
  const agent = userAgent ? userAgent.replace(/[^\x20-\x7e]/g, '').slice(0, 200) : null;
  await db.asAuth(
    (tx) =>
      tx.query(
        `insert into app_private.sessions (mfa_enrol_only, user_agent, token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, now() + make_interval(mins => $7::int), now() + make_interval(hours => $8::int))`,
        [enrolOnly, agent, tokenHash(token), user.userId, user.tenantId, `xms_${user.role}`, config.sessionIdleMinutes, config.sessionAbsoluteHours],
      ),
    { actor: user.userId },
  );
  return token;
}

/**
 * Opens the protected request's one transaction for a session token (src/db/request.ts): the session
 * must be live (not revoked, not expired, idle expiry not passed; a membership change revokes it);
 * the idle expiry slides at most once a minute. Returns undefined, with nothing left open, otherwise.
 */
export async function openSession(
  db: Database,
  config: AppConfig,
  token: string,
): Promise<{ session: Session; tx: RequestTransaction } | undefined> {
  const tx = await openSessionRequest(db, token, config);
  if (!tx) return undefined;
  return { session: sessionOf(token, tx.session), tx };
}

/**
 * The live session of `token` for a route that reads nothing but the session (`sessionOnly`,
 * src/server/app.ts): checked as openSession checks it, with no transaction left open. Undefined when
 * the session is unknown, revoked, expired or no longer matches the membership.
 */
export async function checkSession(db: Database, config: AppConfig, token: string): Promise<Session | undefined> {
  const row = await checkSessionOnly(db, token, config);
  return row && sessionOf(token, row);
}

/** The session of a checked row, frozen: no code after the check can change whose session it is. */
function sessionOf(token: string, row: SessionRow): Session {
  return Object.freeze({ token, userId: row.user_id, tenantId: row.tenant_id, dbRole: row.db_role, role: row.db_role.slice(4), email: row.email, displayName: row.display_name, enrolOnly: row.mfa_enrol_only });
}

/** Revokes one session; `actorId` is who does it (audited): the user logging out or logging in. */
export async function revokeSession(db: AuthDb, token: string, actorId: string): Promise<void> {
  await db.asAuth(
    (tx) => tx.query('update app_private.sessions set revoked_at = now() where token_hash = $1 and revoked_at is null', [tokenHash(token)]),
    { actor: actorId },
  );
}

/** Revokes every session of a user; `actorId` is who does it (the user, or the admin acting on them). */
export async function revokeUserSessions(db: AuthDb, userId: string, actorId: string): Promise<void> {
  await db.asAuth(
    (tx) => tx.query('update app_private.sessions set revoked_at = now() where user_id = $1 and revoked_at is null', [userId]),
    { actor: actorId },
  );
}
