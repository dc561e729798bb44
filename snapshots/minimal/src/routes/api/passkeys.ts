import type { FastifyPluginAsync } from 'fastify';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { createSession, revokeSession, setSessionCookie } from '../../auth/sessions.js';
import { factorRemoved, MfaError, mfaStatus, verifySecondFactor } from '../../auth/mfa.js';
import { deletePasskey, finishPasskeyRegistration, relyingParty, startPasskeyRegistration } from '../../auth/passkeys.js';
import { verifyPassword } from '../../security/passwords.js';
import { INVALID_PASSWORD, proofBody, sendMfaError } from './mfa.js';

/**
 * The user's own passkeys (src/auth/passkeys.ts), beside the TOTP factor of ./mfa.ts and on the same
 * terms: registering is open to an enrol-only session (ENROL_ONLY_ROUTES) and then replaces it with a
 * full one; removal needs a current code or the password; every check counts against the user's
 * second-factor limit.
 */
const registrationBody = {
  type: 'object',
  required: ['name', 'response'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\p{Cc}\\p{Cf}]+$' },
    response: {
      type: 'object',
      required: ['id', 'rawId', 'type', 'response'],
      properties: {
        id: { type: 'string', minLength: 1, maxLength: 1366 },
        rawId: { type: 'string', minLength: 1, maxLength: 1366 },
        type: { const: 'public-key' },
        response: {
          type: 'object',
          required: ['clientDataJSON', 'attestationObject'],
          properties: {
            clientDataJSON: { type: 'string', maxLength: 4096 },
            attestationObject: { type: 'string', maxLength: 16384 },
            transports: { type: 'array', maxItems: 8, items: { type: 'string', maxLength: 32 } },
          },
        },
      },
    },
  },
} as const;

export const passkeyRoutes: FastifyPluginAsync = async (app) => {
  const { config, db, limits } = app.xms;

  app.post('/mfa/passkeys/register/options', async (request, reply) => {
    const session = request.session!;
    try {
      return await startPasskeyRegistration(db, relyingParty(config, request), { userId: session.userId, email: session.email ?? session.userId });
    } catch (error) {
      return sendMfaError(request, reply, error);
    }
  });

  app.post('/mfa/passkeys/register', { schema: { body: registrationBody } }, async (request, reply) => {
    const session = request.session!;
    const { name, response } = request.body as { name: string; response: RegistrationResponseJSON };
    await limits.mfa.consume(request.ip, session.email ?? session.userId);
    let result;
    try {
      result = await finishPasskeyRegistration(db, relyingParty(config, request), session.userId, name.trim(), response);
    } catch (error) {
      return sendMfaError(request, reply, error);
    }
    await limits.mfa.succeeded(request.ip, session.email ?? session.userId);
    if (session.enrolOnly) {
      // the enrol-only session is spent: a full one replaces it
      await revokeSession(db, session.token, session.userId);
      const token = await createSession(db, config, { userId: session.userId, tenantId: session.tenantId!, role: session.role }, request.headers['user-agent']);
      setSessionCookie(reply, config, token);
    }
    return result.recoveryCodes ? { recoveryCodes: result.recoveryCodes } : {};
  });

  app.post(
    '/mfa/passkeys/:id/remove',
    { schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } }, body: proofBody } },
    async (request, reply) => {
      const session = request.session!;
      const { id } = request.params as { id: string };
      const body = request.body as { code?: string; password?: string };
      await limits.mfa.consume(request.ip, session.email ?? session.userId);
      try {
        await db.asAuthTx(async (tx) => {
          if (body.code !== undefined) {
            await verifySecondFactor(tx, config, session.userId, body.code);
          } else {
            const rows = await tx.query<{ password_hash: string }>('select password_hash from app_private.credentials where user_id = $1', [session.userId]);
            if (!rows.rows[0] || !(await verifyPassword(rows.rows[0].password_hash, body.password!))) throw INVALID_PASSWORD;
          }
          if (!(await deletePasskey(tx, session.userId, id))) throw new MfaError(404, 'not_found', 'No such passkey.');
          await factorRemoved(tx, config, session);
        }, { actor: session.userId });
      } catch (error) {
        return sendMfaError(request, reply, error);
      }
      await limits.mfa.succeeded(request.ip, session.email ?? session.userId);
      return mfaStatus(db, config, session);
    },
  );
};
