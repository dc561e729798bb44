import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import {
  AccountError,
  authenticate,
  checkPassword,
  emailOrUndefined,
  normaliseEmail,
  redeemResetToken,
  RESET_MINUTES,
  resetTokenEmail,
  sendPasswordReset,
  signUp,
} from '../../auth/accounts.js';
import { INVALID_LINK, redeemVerification, sendSignupVerification, VERIFY_HOURS, verificationTokenEmail } from '../../auth/email.js';
import { createSession, readSessionToken, revokeSession, setSessionCookie } from '../../auth/sessions.js';
import { chooseTenant, TenantChoiceRequired } from '../../auth/tenants.js';
import { afterPassword } from '../../auth/login.js';
import { invitationRoutes } from './invitation.js';
import { PASSWORD_MAX_LENGTH } from '../../security/passwords.js';
import { isWellFormedToken } from '../../security/tokens.js';
import { Accepted, Email, ErrorBody, errorResponses, Password, Strict } from '../../server/schemas.js';

/**
 * The public auth routes (all listed in src/server/public-routes.ts). Each is rate-limited per
 * client IP and per account in the shared PostgreSQL store, the attempt taken before any secret is
 * checked (a RateLimited thrown here becomes 429 in src/server/app.ts); none reveals whether an e-mail
 * exists; none returns a token in its body (the session token travels only in the cookie).
 */
const Credentials = Strict({
  email: Email,
  password: Password,
  // one of the user's tenants, when they belong to several (src/auth/tenants.ts)
  tenantId: Type.Optional(Type.String({ maxLength: 36 })),
});
/** A link's single-use token (the server checks its form before any lookup) */
const LinkToken = Type.String({ maxLength: 100 });

/** A log-in's answer (src/auth/login.ts LoginAnswer): a session, or the second step first. */
export const LoginAnswer = Type.Union([
  // passkey: the user has one, and the UI offers it
  Type.Object({ status: Type.Literal('mfa_required'), message: Type.String(), passkey: Type.Boolean() }),
  Type.Object({ user: Type.Object({ id: Type.String(), tenantId: Type.String(), role: Type.String() }), mfaEnrolmentRequired: Type.Boolean() }),
]);
/** 409 choose_tenant: the user's tenants, to pick one and log in again with it */
const ChooseTenant = Type.Composite([
  ErrorBody,
  Type.Object({ tenants: Type.Optional(Type.Array(Type.Object({ id: Type.String(), name: Type.String(), role: Type.String() }))) }),
]);

function sendAccountError(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof TenantChoiceRequired) return reply.code(error.status).send({ error: error.code, message: error.message, tenants: error.tenants });
  if (error instanceof AccountError) return reply.code(error.status).send({ error: error.code, message: error.message });
  throw error;
}

export const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db, limits, mail } = app.xms;

  // an invitation accepted by an account that already exists (./invitation.ts)
  await app.register(invitationRoutes);

  // What the sign-up and reset forms ask for: the browser's hints follow the server's configuration.
  const PasswordPolicy = Type.Object({ minLength: Type.Integer(), maxLength: Type.Integer(), minScore: Type.Integer() });
  app.get('/api/auth/password-policy', { schema: { response: { 200: PasswordPolicy, ...errorResponses } } }, async () => ({
    minLength: config.passwordMinLength,
    maxLength: PASSWORD_MAX_LENGTH,
    minScore: config.passwordMinScore,
  }));

  app.post(
    '/api/auth/signup',
    {
      schema: {
        body: Strict({
          email: Email,
          password: Password,
          tenantName: Type.String({ minLength: 1, maxLength: 200 }),
          displayName: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: { 202: Accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      try {
        const email = normaliseEmail(body.email);
        await limits.signup.consume(request.ip, email); // every sign-up attempt counts
        const password = await checkPassword(config, body.password, email);
        await signUp(db, config, { email, password, tenantName: body.tenantName.trim(), displayName: (body.displayName ?? '').trim() });
        // the link goes out after the answer: an address already registered (and verified) gets nothing
        mail.background(() => sendSignupVerification(db, mail, config.mail.appName, email).then(() => undefined));
      } catch (error) {
        return sendAccountError(reply, error);
      }
      // The same answer whether the address was new or already registered.
      return reply.code(202).send({
        status: 'verify_email',
        message: `Check your e-mail: a link to confirm the address is on its way. It works once, for ${VERIFY_HOURS} hours.`,
      });
    },
  );

  // E-mail verification (src/auth/email.ts): the link's token, once. Limited per IP before the token is
  // looked up, then per address, like the password reset.
  app.post(
    '/api/auth/verify-email',
    {
      schema: {
        body: Strict({ token: LinkToken }),
        response: {
          200: Type.Object({ status: Type.Literal('verified'), email: Type.String(), purpose: Type.Union([Type.Literal('signup'), Type.Literal('change')]) }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { token } = request.body;
      await limits.verify.consumeIp(request.ip);
      const email = isWellFormedToken(token) ? await verificationTokenEmail(db, token) : undefined;
      if (email) await limits.verify.consumeAccount(email);
      let verified;
      try {
        if (!isWellFormedToken(token)) throw INVALID_LINK;
        verified = await redeemVerification(db, token);
      } catch (error) {
        return sendAccountError(reply, error);
      }
      // the address is verified; a session still takes the password (the link alone proves the mailbox only)
      return { status: 'verified' as const, email: verified.email, purpose: verified.purpose };
    },
  );

  // A new sign-up link: the same answer, at once, whatever the address (the lookup runs in the background).
  app.post(
    '/api/auth/verify-email/resend',
    {
      schema: { body: Strict({ email: Email }), response: { 202: Accepted, ...errorResponses } },
    },
    async (request, reply) => {
      const { email: raw } = request.body;
      const email = emailOrUndefined(raw);
      await limits.verify.consume(request.ip, email);
      if (email !== undefined) mail.background(() => sendSignupVerification(db, mail, config.mail.appName, email).then(() => undefined));
      return reply.code(202).send({
        status: 'accepted',
        message: `If this address is waiting for confirmation, a new link is on its way. It works once, for ${VERIFY_HOURS} hours.`,
      });
    },
  );

  const loginSchema = { body: Credentials, response: { 200: LoginAnswer, 409: ChooseTenant, ...errorResponses } };
  app.post('/api/auth/login', { schema: loginSchema }, async (request, reply) => {
    const body = request.body;
    // the sign-up normalisation; what cannot be an address is answered as an unknown account
    const email = emailOrUndefined(body.email);
    await limits.login.consume(request.ip, email);
    let membership;
    try {
      membership = await authenticate(db, email, body.password);
      // the password was right: the session's one tenant (the user picks it when they have several)
      membership = await chooseTenant(db, membership.userId, body.tenantId);
    } catch (error) {
      if (error instanceof TenantChoiceRequired) await limits.login.succeeded(request.ip, email);
      return sendAccountError(reply, error);
    }
    await limits.login.succeeded(request.ip, email);
    // a session, or the second step (src/auth/login.ts; POST /api/auth/login/mfa in ./login-mfa.ts)
    return afterPassword(app.xms, request, reply, membership);
  });

  // Forgot password: the same answer, at once, whether or not the address has an account. The lookup,
  // the token and the e-mail happen in the background (src/auth/accounts.ts sendPasswordReset), so
  // neither the answer nor its timing depends on the address; every request counts against the IP's
  // and the address's limits (no success ever gives a point back: the requester proves nothing).
  app.post(
    '/api/auth/password-forgot',
    {
      schema: { body: Strict({ email: Email }), response: { 202: Accepted, ...errorResponses } },
    },
    async (request, reply) => {
      const { email: raw } = request.body;
      // what cannot be an address is answered like an unknown one (and counts only against the IP)
      const email = emailOrUndefined(raw);
      await limits.forgot.consume(request.ip, email);
      if (email !== undefined) mail.background(() => sendPasswordReset(db, mail, config.mail.appName, email).then(() => undefined));
      return reply.code(202).send({
        status: 'accepted',
        message: `If this address has an account, a link to choose a new password is on its way. It works once, for ${RESET_MINUTES} minutes.`,
      });
    },
  );

  app.post(
    '/api/auth/password-reset',
    {
      schema: { body: Strict({ token: LinkToken, password: Password }), response: { 200: Accepted, ...errorResponses } },
    },
    async (request, reply) => {
      const body = request.body;
      await limits.reset.consumeIp(request.ip);
      const email = isWellFormedToken(body.token) ? await resetTokenEmail(db, body.token) : undefined;
      if (email) await limits.reset.consumeAccount(email);
      try {
        if (!isWellFormedToken(body.token)) throw new AccountError(400, 'invalid_token', 'This link is invalid or has expired.');
        await redeemResetToken(db, config, body.token, body.password);
      } catch (error) {
        return sendAccountError(reply, error);
      }
      await limits.reset.succeeded(request.ip, email);
      return { status: 'ok', message: 'Password changed: log in with the new password.' };
    },
  );
};
