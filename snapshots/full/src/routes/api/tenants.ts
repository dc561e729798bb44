import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AccountError } from '../../auth/accounts.js';
import { setSessionCookie } from '../../auth/sessions.js';
import { liveMemberships, switchTenant } from '../../auth/tenants.js';
import { errorResponses, Strict } from '../../server/schemas.js';

const TenantList = Type.Object({
  tenants: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), role: Type.String(), current: Type.Boolean() })),
});
const Switched = Type.Object({ user: Type.Object({ id: Type.String(), tenantId: Type.String(), role: Type.String() }) });

/**
 * The caller's tenants (protected), for the tenant switcher (src/auth/tenants.ts).
 *
 *   GET  /api/tenants          the caller's live memberships, the session's tenant marked
 *   POST /api/tenants/switch   { tenantId }: a new session bound to that tenant (new cookie), the
 *                              current one revoked; 403 unless it is one of the caller's live memberships
 */
export const tenantRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db } = app.xms;

  app.get('/tenants', { schema: { response: { 200: TenantList, ...errorResponses } } }, async (request) => {
    const session = request.session!;
    const tenants = await liveMemberships(db, session.userId);
    return { tenants: tenants.map((tenant) => ({ ...tenant, current: tenant.id === session.tenantId })) };
  });

  app.post(
    '/tenants/switch',
    {
      schema: {
        body: Strict({ tenantId: Type.String({ maxLength: 36 }) }),
        response: { 200: Switched, ...errorResponses },
      },
    },
    async (request, reply) => {
      const session = request.session!;
      const { tenantId } = request.body;
      try {
        const switched = await switchTenant(db, config, session, tenantId, request.headers['user-agent']);
        setSessionCookie(reply, config, switched.token);
        return { user: { id: session.userId, tenantId: switched.membership.tenantId, role: switched.membership.role } };
      } catch (error) {
        if (error instanceof AccountError) return reply.code(error.status).send({ error: error.code, message: error.message });
        throw error;
      }
    },
  );
};
