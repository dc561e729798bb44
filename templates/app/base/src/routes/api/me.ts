import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { clearSessionCookie, revokeSession } from '../../auth/sessions.js';
import { errorResponses, NoContent, Nullable } from '../../server/schemas.js';

/** GET /api/me: what the UI knows of the caller. */
const Me = Type.Object({
  user: Type.Object({
    id: Type.String(),
    email: Nullable(Type.String()),
    displayName: Nullable(Type.String()),
    tenantId: Nullable(Type.String()),
    role: Type.String(),
    mfaEnrolmentRequired: Type.Boolean(),
  }),
});

/** The current user, and log-out (protected: a live session is required to reach them). */
export const meRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db } = app.xms;

  // sessionOnly: everything here comes with the session check (the user's own row, found by the
  // token's hash: supabase/migrations/20240101000399_xms_session_profile.sql) and the route sends no
  // statement of its own, so the check commits at once and no transaction is held for the request.
  // The UI asks this on every page load.
  app.get('/me', { config: { sessionOnly: true }, schema: { response: { 200: Me, ...errorResponses } } }, async (request) => {
    const session = request.session!;
    return {
      user: {
        id: session.userId,
        email: session.email,
        displayName: session.displayName,
        tenantId: session.tenantId,
        role: session.role,
        // a second factor is required and not set up: this session can only enrol (src/auth/mfa.ts)
        mfaEnrolmentRequired: session.enrolOnly,
      },
    };
  });

  app.post('/auth/logout', { schema: { response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    await revokeSession(db, request.session!.token, request.session!.userId);
    clearSessionCookie(reply, config);
    return reply.code(204).send();
  });
};
