import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { clearChallengeCookie, completeLogin, readChallengeToken } from '../../auth/login.js';
import { findChallenge, MfaError, redeemChallenge } from '../../auth/mfa.js';
import { relyingParty, startPasskeyLogin } from '../../auth/passkeys.js';
import { Code, errorResponses, Strict } from '../../server/schemas.js';
import { LoginAnswer } from './auth.js';

/**
 * The second step of a log-in (listed in src/server/public-routes.ts): the pending challenge of the
 * __Host-mfa cookie (src/auth/login.ts) and a TOTP code, a recovery code or a passkey's assertion
 * give a session. Rate-limited like the log-in, per client IP and per account, in the shared store,
 * before the factor is checked. A passkey first asks for its options (the WebAuthn challenge of this
 * log-in, src/auth/passkeys.ts).
 */
const EXPIRED = { error: 'mfa_expired', message: 'This log-in has expired: enter your e-mail and password again.' };

/**
 * An assertion as @simplewebauthn/browser sends it: the schema bounds its size, the library verifies
 * every field (and reads the ones it adds, such as clientExtensionResults, so those are let through).
 */
export const Assertion = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 1366 }),
  rawId: Type.String({ minLength: 1, maxLength: 1366 }),
  type: Type.Literal('public-key'),
  response: Type.Object({
    clientDataJSON: Type.String({ maxLength: 4096 }),
    authenticatorData: Type.String({ maxLength: 4096 }),
    signature: Type.String({ maxLength: 1024 }),
    userHandle: Type.Optional(Type.String({ maxLength: 128 })),
  }),
});

/** The WebAuthn options of this log-in, as @simplewebauthn/server builds them, passed on whole. */
const PasskeyOptions = Type.Unsafe<PublicKeyCredentialRequestOptionsJSON>(Type.Object({}, { additionalProperties: true }));

export const loginMfaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db, limits } = app.xms;

  app.post('/api/auth/login/passkey/options', { schema: { response: { 200: PasskeyOptions, ...errorResponses } } }, async (request, reply) => {
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
        // exactly one factor: a code, or a passkey's assertion
        body: Strict({ code: Type.Optional(Code), passkey: Type.Optional(Assertion) }, { minProperties: 1, maxProperties: 1 }),
        response: { 200: LoginAnswer, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      await limits.mfa.consumeIp(request.ip);
      const token = readChallengeToken(request, config);
      const challenge = token ? await findChallenge(db, token) : undefined;
      if (!token || !challenge) {
        clearChallengeCookie(reply, config);
        return reply.code(401).send(EXPIRED);
      }
      await limits.mfa.consumeAccount(challenge.email);
      // the library's type names fields the schema lets through unchecked; it verifies them itself
      const factor = body.passkey ? { passkey: body.passkey as AuthenticationResponseJSON, rp: relyingParty(config, request) } : body.code!;
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
