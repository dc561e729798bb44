import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AccountError, normaliseEmail } from '../../auth/accounts.js';
import { requestEmailChange, VERIFY_HOURS } from '../../auth/email.js';
import { commitsOnError } from '../../server/db.js';
import { Accepted, Email, errorResponses, Password, Strict } from '../../server/schemas.js';

/**
 * The caller's own account (protected).
 *
 *   POST /api/account/email   change the address: confirmed with the password; the new address takes
 *                             effect only when its e-mailed link is followed (src/auth/email.ts), and
 *                             the current address is told. Limited per IP and per account, counted
 *                             before the password is checked, and committed even when it is refused.
 */
export const accountRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db, limits, mail } = app.xms;

  app.post(
    '/account/email',
    {
      schema: {
        body: Strict({ email: Email, password: Password }),
        response: { 202: Accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const session = request.session!;
      const body = request.body;
      await limits.emailChange.consume(request.ip, session.email ?? undefined);
      try {
        const email = normaliseEmail(body.email);
        await requestEmailChange(db, mail, config.mail.appName, { userId: session.userId, password: body.password, newEmail: email });
      } catch (error) {
        if (!(error instanceof AccountError)) throw error;
        // A refused answer would roll the request's transaction back, and with it the attempt the
        // limiter counted there: it commits instead (its own writes were undone by their savepoint),
        // so a wrong password still counts
        commitsOnError.add(request);
        return reply.code(error.status).send({ error: error.code, message: error.message });
      }
      // the same answer whether or not the new address is free (only its mailbox learns which)
      return reply.code(202).send({
        status: 'verify_email',
        message: `Check the new address: the change takes effect when you follow the link sent to it (valid ${VERIFY_HOURS} hours). We told your current address.`,
      });
    },
  );
};
