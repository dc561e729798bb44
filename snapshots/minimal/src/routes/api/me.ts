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

  app.get('/me', { schema: { response: { 200: Me, ...errorResponses } } }, async (request) => {
    const session = request.session!;
    // the caller's own row of app.users, read as the session's role: RLS decides (a function keeps
    // its plan for the connection; supabase/migrations/20240101000395_xms_current_user_profile.sql)
    const rows = await request.withDb((tx) =>
      tx.query<{ display_name: string | null }>('select app.current_user_display_name() as display_name'),
    );
    return {
      user: {
        id: session.userId,
        email: session.email,
        displayName: rows.rows[0]?.display_name ?? null,
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
