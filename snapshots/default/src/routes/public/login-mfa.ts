import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { clearChallengeCookie, completeLogin, readChallengeToken } from '../../auth/login.js';
import { findChallenge, MfaError, redeemChallenge } from '../../auth/mfa.js';
import { Code, errorResponses, Strict } from '../../server/schemas.js';
import { LoginAnswer } from './auth.js';

/**
 * The second step of a log-in (listed in src/server/public-routes.ts): the pending challenge of the
 * __Host-mfa cookie (src/auth/login.ts) and a TOTP code or a recovery code give a session. Rate-limited
 * like the log-in, per client IP and per account, in the shared store, before the code is checked.
 */
export const loginMfaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db, limits } = app.xms;

  app.post(
    '/api/auth/login/mfa',
    {
      schema: { body: Strict({ code: Code }), response: { 200: LoginAnswer, ...errorResponses } },
    },
    async (request, reply) => {
      const { code } = request.body;
      await limits.mfa.consumeIp(request.ip);
      const token = readChallengeToken(request, config);
      const challenge = token ? await findChallenge(db, token) : undefined;
      if (!token || !challenge) {
        clearChallengeCookie(reply, config);
        return reply.code(401).send({ error: 'mfa_expired', message: 'This log-in has expired: enter your e-mail and password again.' });
      }
      await limits.mfa.consumeAccount(challenge.email);
      let membership;
      try {
        membership = await redeemChallenge(db, config, token, challenge.userId, code);
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
