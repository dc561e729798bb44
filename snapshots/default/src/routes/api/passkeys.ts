import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { factorRemoved, MfaError, mfaStatus, verifySecondFactor } from '../../auth/mfa.js';
import { deletePasskey, finishPasskeyRegistration, relyingParty, startPasskeyRegistration } from '../../auth/passkeys.js';
import { verifyPassword } from '../../security/passwords.js';
import { errorResponses, Strict } from '../../server/schemas.js';
import { INVALID_PASSWORD, MfaStatus, ProofBody, replaceEnrolOnlySession, sendMfaError } from './mfa.js';

/**
 * The user's own passkeys (src/auth/passkeys.ts), beside the TOTP factor of ./mfa.ts and on the same
 * terms: registering is open to an enrol-only session (ENROL_ONLY_ROUTES) and then replaces it with a
 * full one; removal needs a current code or the password; every check counts against the user's
 * second-factor limit.
 */
const RegistrationBody = Strict({
  name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\p{Cc}\\p{Cf}]+$' }),
  // as @simplewebauthn/browser sends it: the schema bounds its size, the library verifies every field
  response: Type.Object({
    id: Type.String({ minLength: 1, maxLength: 1366 }),
    rawId: Type.String({ minLength: 1, maxLength: 1366 }),
    type: Type.Literal('public-key'),
    response: Type.Object({
      clientDataJSON: Type.String({ maxLength: 4096 }),
      attestationObject: Type.String({ maxLength: 16384 }),
      transports: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 })),
    }),
  }),
});
const PasskeyId = Type.Object({ id: Type.String({ format: 'uuid' }) });
/** Shown once, with the first factor: each works once instead of a code */
const Registered = Type.Object({ recoveryCodes: Type.Optional(Type.Array(Type.String())) });

export const passkeyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db, limits } = app.xms;

  app.post('/mfa/passkeys/register/options', async (request, reply) => {
    const session = request.session!;
    try {
      return await startPasskeyRegistration(db, relyingParty(config, request), { userId: session.userId, email: session.email ?? session.userId });
    } catch (error) {
      return sendMfaError(request, reply, error);
    }
  });

  app.post('/mfa/passkeys/register', { schema: { body: RegistrationBody, response: { 200: Registered, ...errorResponses } } }, async (request, reply) => {
    const session = request.session!;
    const { name } = request.body;
    // the library's type names fields the schema lets through unchecked; it verifies them itself
    const response = request.body.response as RegistrationResponseJSON;
    await limits.mfa.consume(request.ip, session.email ?? session.userId);
    let result;
    try {
      result = await finishPasskeyRegistration(db, relyingParty(config, request), session.userId, name.trim(), response);
    } catch (error) {
      return sendMfaError(request, reply, error);
    }
    await limits.mfa.succeeded(request.ip, session.email ?? session.userId);
    await replaceEnrolOnlySession(app.xms, request, reply);
    return result.recoveryCodes ? { recoveryCodes: result.recoveryCodes } : {};
  });

  app.post(
    '/mfa/passkeys/:id/remove',
    { schema: { params: PasskeyId, body: ProofBody, response: { 200: MfaStatus, ...errorResponses } } },
    async (request, reply) => {
      const session = request.session!;
      const { id } = request.params;
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
