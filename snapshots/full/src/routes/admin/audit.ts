import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { can } from '../../generated/permissions.js';
import { errorResponses, Nullable, Strict, StringEnum, Uuid } from '../../server/schemas.js';

/**
 * GET /api/admin/audit: the tenant's audit log, newest first, keyset-paged by id (`before` = the
 * `next` of the previous page), filtered on the server by table, actor, action and time. RLS decides
 * which entries the role sees (permissions.yml: audit_log.select); the page query walks the index
 * (tenant_id, id) backwards.
 *
 * Each entry names its actor by e-mail when the actor is a member of this tenant (looked up through
 * the auth subsystem for the page's actors only). Columns the audit rules redact arrive as
 * "[redacted]" from the database; a column named like a secret is masked here as well, so a rule
 * forgotten in permissions.yml never shows a hash or token on an admin's screen.
 */
const SECRET_COLUMN = /(^|_)(pass(word|wd)?|secret|token|hash|salt|otp|totp|recovery|api_?key)(s?_|s?$)/i;

const AuditQuery = Strict({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  before: Type.Optional(Type.Integer({ minimum: 1 })),
  table: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_]{0,62}(\\.[a-z_][a-z0-9_]{0,62})?$' })),
  actor: Type.Optional(Uuid),
  action: Type.Optional(StringEnum(['INSERT', 'UPDATE', 'DELETE'])),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
});
/** A row image as the audit trigger stored it: column -> value */
const RowImage = Nullable(Type.Object({}, { additionalProperties: true }));
const AuditPage = Type.Object({
  entries: Type.Array(
    Type.Object({
      id: Type.String(),
      at: Type.String({ format: 'date-time' }),
      actorId: Nullable(Type.String()),
      actorEmail: Nullable(Type.String()),
      action: Type.String(),
      table: Type.String(),
      rowKey: Type.Unknown(),
      oldRow: RowImage,
      newRow: RowImage,
    }),
  ),
  /** the `before` of the next page, or null on the last one */
  next: Nullable(Type.String()),
});

interface LogRow {
  id: string;
  at: string;
  actor_id: string | null;
  action: string;
  table_name: string;
  row_key: unknown;
  old_row: Record<string, unknown> | null;
  new_row: Record<string, unknown> | null;
}

/** A row image with every secret-looking column as "[redacted]". */
export function maskSecrets(row: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!row || typeof row !== 'object') return row;
  return Object.fromEntries(Object.entries(row).map(([column, value]) => [column, SECRET_COLUMN.test(column) && value !== null ? '[redacted]' : value]));
}

export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app.xms;

  app.get('/audit', { schema: { querystring: AuditQuery, response: { 200: AuditPage, ...errorResponses } } }, async (request, reply) => {
    if (!can(request.session?.role, 'audit_log', 'select')) {
      return reply.code(403).send({ error: 'forbidden', message: 'permissions.yml does not allow this for your role.' });
    }
    const query = request.query;
    if (query.from && query.to && Date.parse(query.from) > Date.parse(query.to)) {
      return reply.code(400).send({ error: 'invalid_request', message: '"from" is after "to".' });
    }
    // a bare table name means schema app (as in permissions.yml)
    const table = query.table && !query.table.includes('.') ? `app.${query.table}` : query.table;
    const { entries, members } = await request.withDb(async (tx) => {
      const page = await tx.query<LogRow>(
        `select id, at, actor_id, action, table_name, row_key, old_row, new_row from audit.log
          where ($2::bigint is null or id < $2)
            and ($3::text is null or table_name = $3)
            and ($4::uuid is null or actor_id = $4)
            and ($5::text is null or action = $5)
            and ($6::timestamptz is null or at >= $6)
            and ($7::timestamptz is null or at <= $7)
          order by id desc limit $1`,
        [query.limit + 1, query.before ?? null, table ?? null, query.actor ?? null, query.action ?? null, query.from ?? null, query.to ?? null],
      );
      const actors = [...new Set(page.rows.map((row) => row.actor_id).filter((id): id is string => id !== null))];
      // RLS: only actors who are members of this tenant get a name
      const inTenant = actors.length
        ? (await tx.query<{ user_id: string }>('select user_id from app.memberships where user_id = any($1::uuid[])', [actors])).rows
        : [];
      return { entries: page.rows, members: inTenant.map((row) => row.user_id) };
    });
    const emails = new Map(
      (members.length
        ? await db.asAuth((tx) => tx.query<{ user_id: string; email: string }>('select user_id, email from app_private.credentials where user_id = any($1::uuid[])', [members]))
        : []
      ).map((row) => [row.user_id, row.email]),
    );
    const more = entries.length > query.limit;
    const rows = entries.slice(0, query.limit);
    return {
      entries: rows.map((row) => ({
        id: String(row.id),
        at: row.at,
        actorId: row.actor_id,
        actorEmail: row.actor_id ? (emails.get(row.actor_id) ?? null) : null,
        action: row.action,
        table: row.table_name,
        rowKey: row.row_key,
        oldRow: maskSecrets(row.old_row),
        newRow: maskSecrets(row.new_row),
      })),
      next: more ? String(rows[rows.length - 1]!.id) : null,
    };
  });
};
