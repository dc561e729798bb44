import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../server/app.js';
import { commitsOnError } from '../../server/db.js';
import { verifyPassword } from '../../security/passwords.js';
import { createSession, revokeSession, setSessionCookie } from '../../auth/sessions.js';
import {
  confirmEnrolment,
  MfaError,
  mfaStatus,
  regenerateRecoveryCodes,
  removeSecondFactor,
  startEnrolment,
  verifySecondFactor,
} from '../../auth/mfa.js';
import { Code, errorResponses, Password, Strict } from '../../server/schemas.js';

/**
 * The user's own second factor (src/auth/mfa.ts), as the auth subsystem with the user as the audited
 * actor. Enrolment is the one thing an enrol-only session may do (ENROL_ONLY_ROUTES); confirming it
 * replaces that session with a full one. Every code check counts against the user's second-factor
 * limit (the shared store, as at log-in).
 */
const CodeBody = Strict({ code: Code });
/** A passkey as its owner sees it (src/auth/passkeys.ts listPasskeys) */
export const PasskeyInfo = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String(), lastUsedAt: Type.Union([Type.String(), Type.Null()]) });
/** enrolled: any second factor (TOTP or a passkey) */
export const MfaStatus = Type.Object({
  enrolled: Type.Boolean(),
  totp: Type.Boolean(),
  passkeys: Type.Array(PasskeyInfo),
  required: Type.Boolean(),
  recoveryCodesLeft: Type.Integer(),
});
/** The secret to add to an authenticator app: as text, as an otpauth:// URI, as a QR code image */
const Enrolment = Type.Object({ secret: Type.String(), uri: Type.String(), qr: Type.String() });
/** Shown once: each works once instead of a code */
const RecoveryCodes = Type.Object({ recoveryCodes: Type.Array(Type.String()) });

/** A refused code or password: 401 (or 409), and the request's rate-limit point is kept (commitsOnError). */
export function sendMfaError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  if (!(error instanceof MfaError)) throw error;
  commitsOnError.add(request);
  return reply.code(error.status).send({ error: error.code, message: error.message });
}

/** What removing a factor takes: a current code (TOTP or recovery), or the password; exactly one of them. */
export const ProofBody = Strict(
  { code: Type.Optional(Code), password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })) },
  { minProperties: 1, maxProperties: 1 },
);

/**
 * After a first factor is set up: an enrol-only session is spent, and a full one replaces it (the
 * cookie is set on this answer). A full session stays as it is.
 */
export async function replaceEnrolOnlySession(context: { config: AppContext['config']; db: AppContext['db'] }, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = request.session!;
  if (!session.enrolOnly) return;
  const { config, db } = context;
  await revokeSession(db, session.token, session.userId);
  const token = await createSession(db, config, { userId: session.userId, tenantId: session.tenantId!, role: session.role }, request.headers['user-agent']);
  setSessionCookie(reply, config, token);
}

export const INVALID_PASSWORD = new MfaError(401, 'invalid_password', 'The password is incorrect.');

export const mfaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db, limits } = app.xms;

  app.get('/mfa', { schema: { response: { 200: MfaStatus, ...errorResponses } } }, async (request) => {
    const session = request.session!;
    return mfaStatus(db, config, session);
  });

  app.post('/mfa/enrol', { schema: { response: { 200: Enrolment, ...errorResponses } } }, async (request, reply) => {
    const session = request.session!;
    try {
      return await startEnrolment(db, config, { userId: session.userId, email: session.email ?? session.userId });
    } catch (error) {
      return sendMfaError(request, reply, error);
    }
  });

  app.post('/mfa/enrol/confirm', { schema: { body: CodeBody, response: { 200: RecoveryCodes, ...errorResponses } } }, async (request, reply) => {
    const session = request.session!;
    const { code } = request.body;
    await limits.mfa.consume(request.ip, session.email ?? session.userId);
    let recoveryCodes;
    try {
      recoveryCodes = await confirmEnrolment(db, config, session.userId, code.trim());
    } catch (error) {
      return sendMfaError(request, reply, error);
    }
    await limits.mfa.succeeded(request.ip, session.email ?? session.userId);
    await replaceEnrolOnlySession(app.xms, request, reply);
    return { recoveryCodes };
  });

  app.post('/mfa/recovery-codes', { schema: { body: CodeBody, response: { 200: RecoveryCodes, ...errorResponses } } }, async (request, reply) => {
    const session = request.session!;
    const { code } = request.body;
    await limits.mfa.consume(request.ip, session.email ?? session.userId);
    try {
      const recoveryCodes = await regenerateRecoveryCodes(db, config, session.userId, code);
      await limits.mfa.succeeded(request.ip, session.email ?? session.userId);
      return { recoveryCodes };
    } catch (error) {
      return sendMfaError(request, reply, error);
    }
  });

  // Removal needs a current code, or the password (a lost authenticator with no recovery code left).
  app.post(
    '/mfa/remove',
    {
      schema: {
        body: ProofBody,
        response: { 200: MfaStatus, ...errorResponses },
      },
    },
    async (request, reply) => {
      const session = request.session!;
      const body = request.body;
      await limits.mfa.consume(request.ip, session.email ?? session.userId);
      try {
        await db.asAuthTx(async (tx) => {
          if (body.code !== undefined) {
            await verifySecondFactor(tx, config, session.userId, body.code);
          } else {
            const rows = await tx.query<{ password_hash: string }>('select password_hash from app_private.credentials where user_id = $1', [session.userId]);
            if (!rows.rows[0] || !(await verifyPassword(rows.rows[0].password_hash, body.password!))) throw INVALID_PASSWORD;
          }
          await removeSecondFactor(tx, config, session);
        }, { actor: session.userId });
      } catch (error) {
        return sendMfaError(request, reply, error);
      }
      await limits.mfa.succeeded(request.ip, session.email ?? session.userId);
      return mfaStatus(db, config, session);
    },
  );
};
