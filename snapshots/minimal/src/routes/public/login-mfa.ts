import type { FastifyPluginAsync } from 'fastify';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { clearChallengeCookie, completeLogin, readChallengeToken } from '../../auth/login.js';
import { findChallenge, MfaError, redeemChallenge } from '../../auth/mfa.js';
import { relyingParty, startPasskeyLogin } from '../../auth/passkeys.js';

/**
 * The second step of a log-in (listed in src/server/public-routes.ts): the pending challenge of the
 * __Host-mfa cookie (src/auth/login.ts) and a TOTP code, a recovery code or a passkey's assertion
 * give a session. Rate-limited like the log-in, per client IP and per account, in the shared store,
 * before the factor is checked. A passkey first asks for its options (the WebAuthn challenge of this
 * log-in, src/auth/passkeys.ts).
 */
const EXPIRED = { error: 'mfa_expired', message: 'This log-in has expired: enter your e-mail and password again.' };

/** An assertion as @simplewebauthn/browser sends it; the library verifies every field. */
export const assertionSchema = {
  type: 'object',
  required: ['id', 'rawId', 'type', 'response'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 1366 },
    rawId: { type: 'string', minLength: 1, maxLength: 1366 },
    type: { const: 'public-key' },
    response: {
      type: 'object',
      required: ['clientDataJSON', 'authenticatorData', 'signature'],
      properties: {
        clientDataJSON: { type: 'string', maxLength: 4096 },
        authenticatorData: { type: 'string', maxLength: 4096 },
        signature: { type: 'string', maxLength: 1024 },
        userHandle: { type: 'string', maxLength: 128 },
      },
    },
  },
} as const;

export const loginMfaRoutes: FastifyPluginAsync = async (app) => {
  const { config, db, limits } = app.xms;

  app.post('/api/auth/login/passkey/options', async (request, reply) => {
    // a request without a live pending log-in costs the IP a point of the second factor's allowance;
    // options issued give it back (asking for them is no attempt at the factor)
    await limits.mfa.consumeIp(request.ip);
    const token = readChallengeToken(request, config);
    const challenge = token ? await findChallenge(db, token) : undefined;
    const options = token && challenge ? await startPasskeyLogin(db, relyingParty(config, request), token, challenge.userId) : undefined;
    // 400, not 401: this route needs no session, but a pending log-in of a user with a passkey
    if (!options) return reply.code(400).send({ error: 'mfa_expired', message: 'This log-in has expired, or the account has no passkey: use a code, or start again.' });
    await limits.mfa.succeeded(request.ip, undefined);
    return options;
  });

  app.post(
    '/api/auth/login/mfa',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          maxProperties: 1,
          properties: { code: { type: 'string', minLength: 1, maxLength: 40 }, passkey: assertionSchema },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { code?: string; passkey?: AuthenticationResponseJSON };
      await limits.mfa.consumeIp(request.ip);
      const token = readChallengeToken(request, config);
      const challenge = token ? await findChallenge(db, token) : undefined;
      if (!token || !challenge) {
        clearChallengeCookie(reply, config);
        return reply.code(401).send(EXPIRED);
      }
      await limits.mfa.consumeAccount(challenge.email);
      const factor = body.passkey ? { passkey: body.passkey, rp: relyingParty(config, request) } : body.code!;
      let membership;
      try {
        membership = await redeemChallenge(db, config, token, challenge.userId, factor);
      } catch (error) {
        if (error instanceof MfaError) return reply.code(error.status).send({ error: error.code, message: error.message });
        throw error;
      }
      await limits.mfa.succeeded(request.ip, challenge.email);
      clearChallengeCookie(reply, config);
      return completeLogin(app.xms, request, reply, membership, { enrolOnly: false });
    },
  );
};
