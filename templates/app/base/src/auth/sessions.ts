import type { FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseCookie, serialize as serializeCookie } from 'cookie';
import type { AppConfig } from '../config.js';
import { isWellFormedToken, newToken, tokenHash } from '../security/tokens.js';
import type { AuthDb } from '../server/db.js';

/**
 * Sessions (invariant I9).
 * - The token is 256 random bits, sent only in the `__Host-session` cookie: HttpOnly, Secure,
 *   SameSite=Lax, Path=/, no Domain. It never appears in a response body.
 * - The database stores only its SHA-256 (app_private.sessions.token_hash); the identity helpers hash
 *   `app.session_token` the same way, so the database derives the caller from the secret itself.
 * - Idle expiry (SESSION_IDLE_MINUTES, default 30) slides on use; absolute expiry
 *   (SESSION_ABSOLUTE_HOURS, default 12) never moves.
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
): Promise<string> {
  const token = newToken();
  await db.asAuth(
    (tx) =>
      tx.query(
        `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
         values ($1, $2, $3, $4, now() + make_interval(mins => $5::int), now() + make_interval(hours => $6::int))`,
        [tokenHash(token), user.userId, user.tenantId, `xms_${user.role}`, config.sessionIdleMinutes, config.sessionAbsoluteHours],
      ),
    { actor: user.userId },
  );
  return token;
}

/**
 * Looks the token up (as xms_auth), checks it is live and its role is still the membership's, and
 * slides the idle expiry. Returns undefined for an unknown, revoked, expired or outdated session.
 */
export async function resumeSession(db: AuthDb, config: AppConfig, token: string): Promise<Session | undefined> {
  const rows = await db.asAuth((tx) =>
    tx.query<{ user_id: string; tenant_id: string | null; db_role: string; email: string | null }>(
      `update app_private.sessions s
          set idle_expires_at = least(s.expires_at, now() + make_interval(mins => $2::int)), last_seen_at = now()
        where s.token_hash = $1
          and s.revoked_at is null
          and s.expires_at > now()
          and s.idle_expires_at > now()
          and exists (select from app.memberships m
                       where m.user_id = s.user_id and m.tenant_id = s.tenant_id
                         and 'xms_' || m.role = s.db_role and m.deactivated_at is null)
       returning s.user_id, s.tenant_id, s.db_role,
                 (select c.email from app_private.credentials c where c.user_id = s.user_id) as email`,
      [tokenHash(token), config.sessionIdleMinutes],
    ),
  );
  const row = rows[0];
  if (!row) return undefined;
  return { token, userId: row.user_id, tenantId: row.tenant_id, dbRole: row.db_role, role: row.db_role.slice(4), email: row.email };
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
