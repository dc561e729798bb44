import type { FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseCookie, serialize as serializeCookie } from 'cookie';
import type { AppConfig } from '../config.js';
import { isWellFormedToken } from '../security/tokens.js';
import type { AuthDb } from '../server/db.js';
import type { Membership } from './accounts.js';
import { CHALLENGE_MINUTES, createChallenge, mfaRequired, secondFactors } from './mfa.js';
import { createSession, readSessionToken, revokeSession, setSessionCookie } from './sessions.js';

/**
 * What happens once a password was verified (POST /api/auth/login), and once the second factor was
 * (POST /api/auth/login/mfa). Kept apart from the routes so that another step chosen at log-in (which
 * membership, say) composes with them: call afterPassword() with the membership the user logs in to.
 *
 *   afterPassword   a user with a second factor (TOTP or a passkey) gets a pending challenge (cookie __Host-mfa, single use,
 *                   CHALLENGE_MINUTES) and no session; any other user a session, enrol-only when the
 *                   configuration requires a second factor of their role (MFA_REQUIRED_FOR)
 *   completeLogin   the session itself: the pre-login session revoked (no fixation), a new one issued
 */
export type LoginAnswer =
  | { status: 'mfa_required'; message: string; /** the user has a passkey: the UI offers it */ passkey: boolean }
  | { user: { id: string; tenantId: string; role: string }; mfaEnrolmentRequired: boolean };

interface LoginContext {
  config: AppConfig;
  db: AuthDb;
}

export function challengeCookieName(config: AppConfig): string {
  return config.cookieSecure ? '__Host-mfa' : 'mfa';
}

export function readChallengeToken(request: FastifyRequest, config: AppConfig): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  const value = parseCookie(header)[challengeCookieName(config)];
  return isWellFormedToken(value) ? value : undefined;
}

function challengeCookie(config: AppConfig, token: string, maxAge: number): string {
  return serializeCookie(challengeCookieName(config), token, {
    httpOnly: true,
    secure: config.cookieSecure,
    // only ever sent to this site's own log-in form
    sameSite: 'strict',
    path: '/',
    maxAge,
  });
}

export function clearChallengeCookie(reply: FastifyReply, config: AppConfig): void {
  reply.header('set-cookie', challengeCookie(config, '', 0));
}

export async function afterPassword(
  ctx: LoginContext,
  request: FastifyRequest,
  reply: FastifyReply,
  membership: Membership,
): Promise<LoginAnswer> {
  const factors = await secondFactors(ctx.db, membership.userId);
  if (factors.totp || factors.passkey) {
    const token = await createChallenge(ctx.db, membership);
    reply.header('set-cookie', challengeCookie(ctx.config, token, CHALLENGE_MINUTES * 60));
    const message = factors.passkey
      ? 'Use your passkey, or enter the code of your authenticator app or a recovery code.'
      : 'Enter the code of your authenticator app, or a recovery code.';
    return { status: 'mfa_required', message, passkey: factors.passkey };
  }
  return completeLogin(ctx, request, reply, membership, { enrolOnly: mfaRequired(ctx.config, membership.role) });
}

export async function completeLogin(
  ctx: LoginContext,
  request: FastifyRequest,
  reply: FastifyReply,
  membership: Membership,
  options: { enrolOnly: boolean },
): Promise<LoginAnswer> {
  // Session fixation: whatever token came with the request is revoked; a new one is issued.
  const previous = readSessionToken(request, ctx.config);
  if (previous) await revokeSession(ctx.db, previous, membership.userId);
  const token = await createSession(ctx.db, ctx.config, membership, request.headers['user-agent'], options.enrolOnly);
  setSessionCookie(reply, ctx.config, token);
  return { user: { id: membership.userId, tenantId: membership.tenantId, role: membership.role }, mfaEnrolmentRequired: options.enrolOnly };
}
