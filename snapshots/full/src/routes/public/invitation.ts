import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { AccountError } from '../../auth/accounts.js';
import { findInvitation, INVALID_INVITATION, joinByInvitation } from '../../auth/invitations.js';
import { completeLogin } from '../../auth/login.js';
import { MfaError } from '../../auth/mfa.js';
import { isWellFormedToken } from '../../security/tokens.js';

/**
 * The invitation page's routes (public, listed in src/server/public-routes.ts; src/auth/invitations.ts):
 *
 *   POST /api/auth/invitation        { token }: the inviting tenant's name, the address, and whether
 *                                    the address has an account (only the link's holder can ask)
 *   POST /api/auth/invitation/join   { token, password, code? }: an existing account joins the
 *                                    inviting tenant with its own password (and second factor); a
 *                                    session in that tenant follows, enrol-only when its role
 *                                    requires a second factor the account lacks
 *
 * A new address accepts with POST /api/auth/password-reset (it chooses its password). Limited like the
 * log-in, per IP before the token is looked up, then per address: the password is guessed against the
 * same allowance as at log-in, the code against the second step's.
 */
const tokenSchema = { type: 'string', maxLength: 100 } as const;

function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof AccountError || error instanceof MfaError) return reply.code(error.status).send({ error: error.code, message: error.message });
  throw error;
}

export const invitationRoutes: FastifyPluginAsync = async (app) => {
  const { config, db, limits } = app.xms;

  app.post(
    '/api/auth/invitation',
    { schema: { body: { type: 'object', required: ['token'], additionalProperties: false, properties: { token: tokenSchema } } } },
    async (request, reply) => {
      const { token } = request.body as { token: string };
      await limits.reset.consumeIp(request.ip);
      const invitation = isWellFormedToken(token) ? await findInvitation(db, token) : undefined;
      if (!invitation) return sendError(reply, INVALID_INVITATION);
      return invitation;
    },
  );

  app.post(
    '/api/auth/invitation/join',
    {
      schema: {
        body: {
          type: 'object',
          required: ['token', 'password'],
          additionalProperties: false,
          properties: { token: tokenSchema, password: { type: 'string', maxLength: 1024 }, code: { type: 'string', minLength: 1, maxLength: 40 } },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { token: string; password: string; code?: string };
      await limits.login.consumeIp(request.ip);
      const invitation = isWellFormedToken(body.token) ? await findInvitation(db, body.token) : undefined;
      if (!invitation) return sendError(reply, INVALID_INVITATION);
      await limits.login.consumeAccount(invitation.email);
      if (body.code !== undefined) await limits.mfa.consume(request.ip, invitation.email);
      let joined;
      try {
        joined = await joinByInvitation(db, config, body.token, body.password, body.code);
      } catch (error) {
        return sendError(reply, error);
      }
      await limits.login.succeeded(request.ip, invitation.email);
      if (body.code !== undefined) await limits.mfa.succeeded(request.ip, invitation.email);
      const answer = await completeLogin(app.xms, request, reply, joined.membership, { enrolOnly: joined.enrolOnly });
      return { ...answer, tenant: { id: joined.membership.tenantId, name: invitation.tenantName } };
    },
  );
};
