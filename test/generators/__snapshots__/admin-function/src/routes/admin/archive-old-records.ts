import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses, Strict } from '../../server/schemas.js';

/**
 * POST /api/admin/archive-old-records: Archives records older than a year.
 * (written by `xms add admin-function archive-old-records`)
 *
 * Registered in the admin scope (src/routes/admin/index.ts): the server has already refused a
 * request without a session (401) or whose session role is not admin (403); the guard below checks
 * again, from the session, so moving this route out of the scope cannot open it. Everything runs in
 * the admin's own request transaction (their role xms_admin, their session: RLS bounds the work to
 * their tenant; no privileged credential exists), and the trail row in app.admin_operations is
 * written in the same transaction: the operation and its record commit together or not at all.
 */
const OPERATION = 'archive-old-records';

/** The operation's input: add its fields here (an unknown field is refused by name) */
const Body = Strict({
  reason: Type.String({ minLength: 1, maxLength: 500 }),
});
/** The answer: the trail row of app.admin_operations */
const Done = Type.Object({ operation: Type.String(), id: Type.String(), at: Type.String({ format: 'date-time' }) });

export const archiveOldRecordsAdminFunction: FastifyPluginAsyncTypebox = async (app) => {
  app.post(`/${OPERATION}`, { schema: { body: Body, response: { 200: Done, ...errorResponses } } }, async (request, reply) => {
    if (request.session?.role !== 'admin') {
      return reply.code(403).send({ error: 'forbidden', message: 'Administrators only.' });
    }
    const input = request.body;
    const result = await request.withDb(async (tx) => {
      // The operation's work goes here, as statements on tx (RLS applies, triggers audit them).
      const trail = await tx.query<{ id: string; created_at: string }>(
        `insert into app.admin_operations (operation, input) values ($1, $2::jsonb) returning id, created_at`,
        [OPERATION, JSON.stringify(input)],
      );
      return trail.rows[0]!;
    });
    return { operation: OPERATION, id: result.id, at: result.created_at };
  });
};
