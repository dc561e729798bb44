import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { can, type Action } from '../../generated/permissions.js';
import { errorResponses, IdParams, NoContent, Nullable, Strict, Uuid } from '../../server/schemas.js';

/**
 * app.records (written by `xms add table records`), in the protected scope (prefix /api):
 *
 *   GET    /api/records          one page, newest first: { rows, total, next } (?limit, ?after=next, ?q)
 *   GET    /api/records/:id      one row
 *   POST   /api/records          create (tenant and owner come from the session, in the database)
 *   PATCH  /api/records/:id      change some columns
 *   DELETE /api/records/:id      delete
 *
 * Every input and answer has its TypeBox schema below, from the table spec (title:text,body:text): Ajv validates
 * requests with it, the answers are written with it, and the handlers' types come from it. The server refuses early (403) when permissions.yml
 * gives the session's role no scope for the action; the database (RLS, same matrix) still decides
 * which rows the request sees and may change: another tenant's row is simply not found (404).
 *
 * Lists are keyset-paged: `next` is an opaque cursor (the last row's created_at and id), and the next
 * page is `where (created_at, id) < cursor`, a backward scan of the index (tenant_id, created_at, id)
 * that costs the same on page 1 and on page 1,000 (OFFSET would read and drop every earlier row).
 */
const TABLE = 'records' as const;
const COLUMNS = ['title', 'body'] as const;
const FIELDS = `id, tenant_id, owner_id, ${COLUMNS.map((c) => `"${c}"`).join(', ')}, created_at, updated_at`;
const SELECT = `select ${FIELDS} from app.records`;
/** created_at to the microsecond, in UTC: the same text whatever the session's DateStyle and TimeZone */
const CURSOR_AT = `to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at`;
/** the text columns `?q=` searches (case-insensitive substring) */
const SEARCH_COLUMNS: readonly string[] = ['title', 'body'];

/** The columns a client writes. */
const Columns = {
  title: Type.String({ maxLength: 10000 }),
  body: Type.String({ maxLength: 10000 }),
};
/** POST: the columns that are not nullable are required; nothing else (tenant, owner, id) may be sent */
const CreateBody = Strict({
  title: Columns.title,
  body: Columns.body,
});
/** PATCH: some of the columns, at least one */
const PatchBody = Strict(
  {
    title: Type.Optional(Columns.title),
    body: Type.Optional(Columns.body),
  },
  { minProperties: 1 },
);
/** A row as the API answers it. */
export const RecordsRow = Type.Object({
  id: Uuid,
  tenant_id: Uuid,
  owner_id: Uuid,
  ...Columns,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
/** (node-postgres reads timestamps as Date; the answer writes them as ISO 8601 text) */
export type RecordsRow = Static<typeof RecordsRow>;
const ListQuery = Strict({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  after: Type.Optional(Type.String({ maxLength: 200 })),
  q: Type.Optional(Type.String({ maxLength: 200 })),
});
const Page = Type.Object({ rows: Type.Array(RecordsRow), total: Type.Integer(), next: Nullable(Type.String()) });

/** The cursor after `row`: base64url of [created_at (CURSOR_AT), id]. */
function cursorOf(row: { cursor_at: string; id: string }): string {
  return Buffer.from(JSON.stringify([row.cursor_at, row.id]), 'utf8').toString('base64url');
}

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The [created_at, id] a cursor holds, or undefined when it is not one this server wrote. */
function parseCursor(cursor: string): [string, string] | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [at, id] = value as unknown[];
    return typeof at === 'string' && CURSOR_TIME.test(at) && typeof id === 'string' && UUID.test(id) ? [at, id] : undefined;
  } catch {
    return undefined;
  }
}

/** `%`, `_` and `\` match themselves in the search text. */
const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

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

export const recordsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const refuse = (reply: FastifyReply) => reply.code(403).send({ error: 'forbidden', message: 'Not allowed.' });
  const allowed = (role: string | undefined, action: Action) => can(role, TABLE, action);
  const notFound = (reply: FastifyReply) => reply.code(404).send({ error: 'not_found', message: 'No such row.' });

  app.get(`/${TABLE}`, { schema: { querystring: ListQuery, response: { 200: Page, ...errorResponses } } }, async (request, reply) => {
    if (!allowed(request.session?.role, 'select')) return refuse(reply);
    const { limit, after, q } = request.query;
    const cursor = after === undefined ? undefined : parseCursor(after);
    if (after !== undefined && !cursor) return reply.code(400).send({ error: 'invalid_request', message: 'The "after" cursor is not valid.' });
    const params: unknown[] = [];
    const where: string[] = [];
    const search = q?.trim();
    if (search) {
      if (SEARCH_COLUMNS.length === 0) return reply.code(400).send({ error: 'invalid_request', message: 'This table has no text column to search.' });
      params.push(likePattern(search));
      where.push(`(${SEARCH_COLUMNS.map((c) => `"${c}" ilike $${params.length}`).join(' or ')})`);
    }
    const filter = where.length ? `where ${where.join(' and ')}` : '';
    const pageParams = [...params, ...(cursor ?? []), limit + 1];
    if (cursor) where.push(`(created_at, id) < ($${params.length + 1}::timestamptz, $${params.length + 2}::uuid)`);
    const pageWhere = where.length ? `where ${where.join(' and ')}` : '';
    try {
      const [page, count] = await request.withDb(async (tx) => [
        // one row more than asked: whether there is a next page, without a second query
        await tx.query<RecordsRow & { cursor_at: string }>(
          `select ${FIELDS}, ${CURSOR_AT} from app.records ${pageWhere} order by created_at desc, id desc limit $${pageParams.length}`,
          pageParams,
        ),
        await tx.query<{ total: number }>(`select count(*)::int as total from app.records ${filter}`, params),
      ]);
      const more = page.rows.length > limit;
      const rows = page.rows.slice(0, limit);
      const next = more ? cursorOf(rows[rows.length - 1]!) : null;
      return { rows: rows.map(({ cursor_at: _, ...row }) => row), total: count.rows[0]!.total, next };
    } catch (error) {
      // a cursor of the right shape but no real time (month 13) is the client's error
      return clientError(reply, error) ?? Promise.reject(error);
    }
  });

  app.get(`/${TABLE}/:id`, { schema: { params: IdParams, response: { 200: RecordsRow, ...errorResponses } } }, async (request, reply) => {
    if (!allowed(request.session?.role, 'select')) return refuse(reply);
    const { id } = request.params;
    const rows = await request.withDb((tx) => tx.query<RecordsRow>(`${SELECT} where id = $1`, [id]));
    return rows.rows[0] ?? notFound(reply);
  });

  app.post(`/${TABLE}`, { schema: { body: CreateBody, response: { 201: RecordsRow, ...errorResponses } } }, async (request, reply) => {
    if (!allowed(request.session?.role, 'insert')) return refuse(reply);
    const body = request.body;
    const names = COLUMNS.filter((c) => c in body);
    try {
      const rows = await request.withDb((tx) =>
        tx.query<RecordsRow>(
          `insert into app.records (${names.map((c) => `"${c}"`).join(', ')}) values (${names.map((_, i) => `$${i + 1}`).join(', ')})
           returning ${FIELDS}`,
          names.map((c) => body[c]),
        ),
      );
      return reply.code(201).send(rows.rows[0]!);
    } catch (error) {
      return clientError(reply, error) ?? Promise.reject(error);
    }
  });

  app.patch(`/${TABLE}/:id`, { schema: { params: IdParams, body: PatchBody, response: { 200: RecordsRow, ...errorResponses } } }, async (request, reply) => {
    if (!allowed(request.session?.role, 'update')) return refuse(reply);
    const { id } = request.params;
    const body = request.body;
    const names = COLUMNS.filter((c) => c in body);
    try {
      const rows = await request.withDb((tx) =>
        tx.query<RecordsRow>(
          `update app.records set ${names.map((c, i) => `"${c}" = $${i + 2}`).join(', ')} where id = $1
           returning ${FIELDS}`,
          [id, ...names.map((c) => body[c])],
        ),
      );
      return rows.rows[0] ?? notFound(reply);
    } catch (error) {
      return clientError(reply, error) ?? Promise.reject(error);
    }
  });

  app.delete(`/${TABLE}/:id`, { schema: { params: IdParams, response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    if (!allowed(request.session?.role, 'delete')) return refuse(reply);
    const { id } = request.params;
    const rows = await request.withDb((tx) => tx.query(`delete from app.records where id = $1 returning id`, [id]));
    return rows.rows.length ? reply.code(204).send() : notFound(reply);
  });
};
