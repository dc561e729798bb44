import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { can, type Action } from '../../generated/permissions.js';

/**
 * app.records (written by `xms add table records`), in the protected scope (prefix /api):
 *
 *   GET    /api/records          list (limit, offset)
 *   GET    /api/records/:id      one row
 *   POST   /api/records          create (tenant and owner come from the session, in the database)
 *   PATCH  /api/records/:id      change some columns
 *   DELETE /api/records/:id      delete
 *
 * Every input is validated by its JSON schema. The server refuses early (403) when permissions.yml
 * gives the session's role no scope for the action; the database (RLS, same matrix) still decides
 * which rows the request sees and may change: another tenant's row is simply not found (404).
 */
const TABLE = 'records' as const;
const COLUMNS = ['title', 'body'] as const;
const SELECT = `select id, tenant_id, owner_id, ${COLUMNS.map((c) => `"${c}"`).join(', ')}, created_at, updated_at from app.records`;

const columnProperties = {
  title: { type: 'string', maxLength: 10000 },
  body: { type: 'string', maxLength: 10000 },
} as const;
const createBody = { type: 'object', additionalProperties: false, required: ['title', 'body'], properties: columnProperties } as const;
const patchBody = { type: 'object', additionalProperties: false, minProperties: 1, properties: columnProperties } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } } as const;
const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
    offset: { type: 'integer', minimum: 0, maximum: 1000000, default: 0 },
  },
} as const;

/** PostgreSQL errors a client caused, as 4xx answers; anything else stays a 500. */
function clientError(reply: FastifyReply, error: unknown): FastifyReply | undefined {
  const code = (error as { code?: string } | null)?.code;
  if (code === '23505') return reply.code(409).send({ error: 'conflict', message: 'A row with this value already exists.' });
  if (code === '23514' || code === '23502' || code === '22P02' || code === '22007' || code === '22008' || code === '22003') {
    return reply.code(400).send({ error: 'invalid_request', message: 'A value is not allowed.' });
  }
  if (code === '42501') return reply.code(403).send({ error: 'forbidden', message: 'Not allowed.' });
  return undefined;
}

export const recordsRoutes: FastifyPluginAsync = async (app) => {
  const refuse = (reply: FastifyReply) => reply.code(403).send({ error: 'forbidden', message: 'Not allowed.' });
  const allowed = (role: string | undefined, action: Action) => can(role, TABLE, action);
  const notFound = (reply: FastifyReply) => reply.code(404).send({ error: 'not_found', message: 'No such row.' });

  app.get(`/${TABLE}`, { schema: { querystring: listQuery } }, async (request, reply) => {
    if (!allowed(request.session?.role, 'select')) return refuse(reply);
    const { limit, offset } = request.query as { limit: number; offset: number };
    const rows = await request.withDb((tx) => tx.query(`${SELECT} order by created_at desc, id limit $1 offset $2`, [limit, offset]));
    return { rows: rows.rows };
  });

  app.get(`/${TABLE}/:id`, { schema: { params: idParams } }, async (request, reply) => {
    if (!allowed(request.session?.role, 'select')) return refuse(reply);
    const { id } = request.params as { id: string };
    const rows = await request.withDb((tx) => tx.query(`${SELECT} where id = $1`, [id]));
    return rows.rows[0] ?? notFound(reply);
  });

  app.post(`/${TABLE}`, { schema: { body: createBody } }, async (request, reply) => {
    if (!allowed(request.session?.role, 'insert')) return refuse(reply);
    const body = request.body as Record<string, unknown>;
    const names = COLUMNS.filter((c) => c in body);
    try {
      const rows = await request.withDb((tx) =>
        tx.query(
          `insert into app.records (${names.map((c) => `"${c}"`).join(', ')}) values (${names.map((_, i) => `$${i + 1}`).join(', ')})
           returning id, tenant_id, owner_id, ${COLUMNS.map((c) => `"${c}"`).join(', ')}, created_at, updated_at`,
          names.map((c) => body[c]),
        ),
      );
      return reply.code(201).send(rows.rows[0]);
    } catch (error) {
      return clientError(reply, error) ?? Promise.reject(error);
    }
  });

  app.patch(`/${TABLE}/:id`, { schema: { params: idParams, body: patchBody } }, async (request, reply) => {
    if (!allowed(request.session?.role, 'update')) return refuse(reply);
    const { id } = request.params as { id: string };
    const body = request.body as Record<string, unknown>;
    const names = COLUMNS.filter((c) => c in body);
    try {
      const rows = await request.withDb((tx) =>
        tx.query(
          `update app.records set ${names.map((c, i) => `"${c}" = $${i + 2}`).join(', ')} where id = $1
           returning id, tenant_id, owner_id, ${COLUMNS.map((c) => `"${c}"`).join(', ')}, created_at, updated_at`,
          [id, ...names.map((c) => body[c])],
        ),
      );
      return rows.rows[0] ?? notFound(reply);
    } catch (error) {
      return clientError(reply, error) ?? Promise.reject(error);
    }
  });

  app.delete(`/${TABLE}/:id`, { schema: { params: idParams } }, async (request, reply) => {
    if (!allowed(request.session?.role, 'delete')) return refuse(reply);
    const { id } = request.params as { id: string };
    const rows = await request.withDb((tx) => tx.query(`delete from app.records where id = $1 returning id`, [id]));
    return rows.rows.length ? reply.code(204).send() : notFound(reply);
  });
};
