import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { normaliseEmail, AccountError } from '../../auth/accounts.js';
import { revokeUserSessions } from '../../auth/sessions.js';
import { newToken, tokenHash } from '../../security/tokens.js';
import { can, isRole, type Action } from '../../generated/permissions.js';
// xms:admin-imports (`xms add admin-function` adds its imports above this line)

/**
 * Admin functions (prefix /api/admin), registered in the admin scope: the server already checked
 * that the session's role is admin (src/server/app.ts). Every write runs in the admin's own request
 * transaction as xms_admin, so RLS bounds it to the admin's tenant (another tenant's user is simply
 * not found: 404) and the audit trigger records the admin as the actor. The auth subsystem (xms_auth)
 * only creates the bare user row and revokes sessions; nothing here uses a privileged credential.
 *
 *   GET    /api/admin/users                       members of the admin's tenant
 *   POST   /api/admin/users                       create a user in the tenant (invitation link); the same
 *                                                 answer whether or not the address has an account
 *   POST   /api/admin/users/:id/password-reset    single-use, expiring reset link; sessions revoked
 *   POST   /api/admin/users/:id/deactivate        no more log-in; sessions revoked
 *   DELETE /api/admin/users/:id                   remove the user from the tenant; sessions revoked
 *   PUT    /api/admin/users/:id/role              change role; sessions revoked (new token at next log-in)
 */
const ROLE_PATTERN = '^[a-z][a-z0-9_]{0,39}$';

/** Early 403 from the compiled guard map (permissions.yml): the database (RLS) still decides. */
function allowed(role: string | undefined, action: Action): boolean {
  return can(role, 'memberships', action);
}
const RESET_HOURS = 24;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', format: 'uuid' } },
} as const;

function resetLink(token: string): string {
  // the token travels in the fragment: never sent to a server, never in a log
  return `/reset-password#token=${token}`;
}

export const adminRoutes: FastifyPluginAsync = async (app) => {
  const { db } = app.xms;

  const notFound = (reply: FastifyReply) => reply.code(404).send({ error: 'not_found', message: 'No such user in this tenant.' });
  const forbidden = (reply: FastifyReply) =>
    reply.code(403).send({ error: 'forbidden', message: 'permissions.yml does not allow this for your role.' });
  const unknownRole = (reply: FastifyReply) => reply.code(400).send({ error: 'unknown_role', message: 'No such role in permissions.yml.' });
  const notSelf = (reply: FastifyReply) =>
    reply.code(400).send({ error: 'own_account', message: 'Administrators cannot do this to their own account.' });

  app.get('/users', async (request, reply) => {
    if (!allowed(request.session?.role, 'select')) return forbidden(reply);
    const members = await request.withDb((tx) =>
      tx.query<{ user_id: string; role: string; deactivated_at: string | null; display_name: string | null }>(
        `select m.user_id, m.role, m.deactivated_at, u.display_name
           from app.memberships m left join app.users u on u.id = m.user_id
          where m.tenant_id = (select app.current_tenant_id())
          order by m.created_at`,
      ),
    );
    const ids = members.rows.map((row) => row.user_id);
    const emails = ids.length
      ? await db.asAuth((tx) => tx.query<{ user_id: string; email: string }>('select user_id, email from app_private.credentials where user_id = any($1::uuid[])', [ids]))
      : [];
    const emailOf = new Map(emails.map((row) => [row.user_id, row.email]));
    return {
      users: members.rows.map((row) => ({
        id: row.user_id,
        email: emailOf.get(row.user_id) ?? null,
        displayName: row.display_name,
        role: row.role,
        active: row.deactivated_at === null,
      })),
    };
  });

  app.post(
    '/users',
    {
      schema: {
        body: {
          type: 'object',
          required: ['email', 'role'],
          additionalProperties: false,
          properties: {
            email: { type: 'string', maxLength: 320 },
            role: { type: 'string', pattern: ROLE_PATTERN },
            displayName: { type: 'string', maxLength: 200 },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { email: string; role: string; displayName?: string };
      if (!allowed(request.session?.role, 'insert')) return forbidden(reply);
      if (!isRole(body.role)) return unknownRole(reply);
      let email: string;
      try {
        email = normaliseEmail(body.email);
      } catch (error) {
        if (error instanceof AccountError) return reply.code(error.status).send({ error: error.code, message: error.message });
        throw error;
      }
      // No lookup of the address: an address registered anywhere (another tenant, this one, a pending
      // invitation) gets exactly the answer a new one gets, by the same code path, so an admin (anyone
      // who signs up is one) cannot probe for accounts. Such an invitation cannot take the account
      // over: redeeming it would create a second credential for the address, which the unique e-mail
      // refuses (src/auth/accounts.ts redeemResetToken: "link invalid"), and nothing is changed.
      // Whoever holds the link (the admin, until they hand it on) can still tell the cases apart by
      // redeeming it themselves; closing that needs the link to travel by e-mail to the address.
      // the bare user row is written by the auth subsystem, in the admin's name (audit.log actor)
      const created = await db.asAuth(
        (tx) => tx.query<{ id: string }>('insert into app.users (display_name) values ($1) returning id', [(body.displayName ?? '').trim()]),
        { actor: request.session!.userId },
      );
      const userId = created[0]!.id;
      const token = newToken();
      await request.withDb(async (tx) => {
        await tx.query('insert into app.memberships (user_id, tenant_id, role) values ($1, (select app.current_tenant_id()), $2)', [userId, body.role]);
        await tx.query(
          `insert into app_private.password_resets (token_hash, user_id, tenant_id, email, created_by, expires_at)
           values ($1, $2, (select app.current_tenant_id()), $3, (select app.current_user_id()), now() + make_interval(hours => $4::int))`,
          [tokenHash(token), userId, email, RESET_HOURS],
        );
      });
      return reply.code(201).send({ user: { id: userId, email, role: body.role }, invitationLink: resetLink(token), expiresInHours: RESET_HOURS });
    },
  );

  app.post('/users/:id/password-reset', { schema: { params: idParams } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const session = request.session!;
    if (!allowed(session.role, 'select')) return forbidden(reply);
    const token = newToken();
    const emails = await db.asAuth((tx) => tx.query<{ email: string }>('select email from app_private.credentials where user_id = $1', [id]));
    const found = await request.withDb(async (tx) => {
      const member = await tx.query('select 1 as found from app.memberships where user_id = $1 and tenant_id = (select app.current_tenant_id())', [id]);
      if (member.rows.length === 0 || !emails[0]) return false;
      await tx.query(
        `insert into app_private.password_resets (token_hash, user_id, tenant_id, email, created_by, expires_at)
         values ($1, $2, (select app.current_tenant_id()), $3, (select app.current_user_id()), now() + make_interval(hours => $4::int))`,
        [tokenHash(token), id, emails[0].email, RESET_HOURS],
      );
      return true;
    });
    if (!found) return notFound(reply);
    if (id !== session.userId) await revokeUserSessions(db, id, session.userId);
    return { resetLink: resetLink(token), expiresInHours: RESET_HOURS };
  });

  app.post('/users/:id/deactivate', { schema: { params: idParams } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!allowed(request.session?.role, 'update')) return forbidden(reply);
    if (id === request.session!.userId) return notSelf(reply);
    const rows = await request.withDb((tx) =>
      tx.query('update app.memberships set deactivated_at = now() where user_id = $1 and tenant_id = (select app.current_tenant_id()) returning user_id', [id]),
    );
    if (rows.rows.length === 0) return notFound(reply);
    await revokeUserSessions(db, id, request.session!.userId);
    return { id, active: false };
  });

  app.delete('/users/:id', { schema: { params: idParams } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!allowed(request.session?.role, 'delete')) return forbidden(reply);
    if (id === request.session!.userId) return notSelf(reply);
    const rows = await request.withDb((tx) =>
      tx.query('delete from app.memberships where user_id = $1 and tenant_id = (select app.current_tenant_id()) returning user_id', [id]),
    );
    if (rows.rows.length === 0) return notFound(reply);
    await revokeUserSessions(db, id, request.session!.userId);
    return reply.code(204).send();
  });

  app.put(
    '/users/:id/role',
    {
      schema: {
        params: idParams,
        body: { type: 'object', required: ['role'], additionalProperties: false, properties: { role: { type: 'string', pattern: ROLE_PATTERN } } },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const { role } = request.body as { role: string };
      if (!allowed(request.session?.role, 'update')) return forbidden(reply);
      if (!isRole(role)) return unknownRole(reply);
      if (id === request.session!.userId) return notSelf(reply);
      const rows = await request.withDb((tx) =>
        tx.query('update app.memberships set role = $2 where user_id = $1 and tenant_id = (select app.current_tenant_id()) returning user_id', [id, role]),
      );
      if (rows.rows.length === 0) return notFound(reply);
      await revokeUserSessions(db, id, request.session!.userId);
      return { id, role };
    },
  );
  // The audit log of this tenant, newest first. RLS decides which rows the admin's role sees
  // (permissions.yml: audit_log.select); `before` pages by id.
  app.get(
    '/audit',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
            before: { type: 'integer', minimum: 1 },
          },
        },
      },
    },
    async (request, reply) => {
      if (!can(request.session?.role, 'audit_log', 'select')) return forbidden(reply);
      const { limit, before } = request.query as { limit: number; before?: number };
      const rows = await request.withDb((tx) =>
        tx.query<{
          id: string; at: string; actor_id: string | null; action: string; table_name: string;
          row_key: unknown; old_row: unknown; new_row: unknown;
        }>(
          `select id, at, actor_id, action, table_name, row_key, old_row, new_row from audit.log
            where ($2::bigint is null or id < $2) order by id desc limit $1`,
          [limit, before ?? null],
        ),
      );
      return {
        entries: rows.rows.map((row) => ({
          id: String(row.id),
          at: row.at,
          actorId: row.actor_id,
          action: row.action,
          table: row.table_name,
          rowKey: row.row_key,
          oldRow: row.old_row,
          newRow: row.new_row,
        })),
      };
    },
  );
  // xms:admin-routes (`xms add admin-function` registers its routes above this line)
};
