import type { FastifyPluginAsync } from 'fastify';
import { AccountError } from '../../auth/accounts.js';
import { setSessionCookie } from '../../auth/sessions.js';
import { liveMemberships, switchTenant } from '../../auth/tenants.js';

/**
 * The caller's tenants (protected), for the tenant switcher (src/auth/tenants.ts).
 *
 *   GET  /api/tenants          the caller's live memberships, the session's tenant marked
 *   POST /api/tenants/switch   { tenantId }: a new session bound to that tenant (new cookie), the
 *                              current one revoked; 403 unless it is one of the caller's live memberships
 */
export const tenantRoutes: FastifyPluginAsync = async (app) => {
  const { config, db } = app.xms;

  app.get('/tenants', async (request) => {
    const session = request.session!;
    const tenants = await liveMemberships(db, session.userId);
    return { tenants: tenants.map((tenant) => ({ ...tenant, current: tenant.id === session.tenantId })) };
  });

  app.post(
    '/tenants/switch',
    {
      schema: {
        body: { type: 'object', required: ['tenantId'], additionalProperties: false, properties: { tenantId: { type: 'string', maxLength: 36 } } },
      },
    },
    async (request, reply) => {
      const session = request.session!;
      const { tenantId } = request.body as { tenantId: string };
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
