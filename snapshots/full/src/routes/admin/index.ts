import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { normaliseEmail, AccountError, RESET_MINUTES, resetPath } from '../../auth/accounts.js';
import { revokeUserSessions } from '../../auth/sessions.js';
import { invitationForExistingAccountMessage, invitationMessage, passwordResetMessage } from '../../mail/messages.js';
import { newToken, tokenHash } from '../../security/tokens.js';
import type { Tx } from '../../server/db.js';
import { Email, errorResponses, IdParams, NoContent, Nullable, RoleName, Strict, StringEnum } from '../../server/schemas.js';
import { can, isRole, type Action } from '../../generated/permissions.js';
import { auditRoutes } from './audit.js';
// xms:admin-imports (`xms add admin-function` adds its imports above this line)

/**
 * Admin functions (prefix /api/admin), registered in the admin scope: the server already checked
 * that the session's role is admin (src/server/app.ts). Every write runs in the admin's own request
 * transaction as xms_admin, so RLS bounds it to the admin's tenant (another tenant's user is simply
 * not found: 404) and the audit trigger records the admin as the actor. The auth subsystem (xms_auth)
 * only creates the bare user row, retires tokens and revokes sessions, in the admin's name; nothing
 * here uses a privileged credential. Links travel only by e-mail, after the transaction committed:
 * no answer here carries a token.
 *
 *   GET    /api/admin/users                       members of the admin's tenant: active, deactivated,
 *                                                 or an invitation (pending with its expiry, or expired)
 *   POST   /api/admin/users                       invite by e-mail; the same answer whether or not the
 *                                                 address has an account (re-inviting a pending
 *                                                 address of this tenant resends its invitation)
 *   POST   /api/admin/users/:id/invitation        resend: a new link by e-mail, the old one dead
 *   DELETE /api/admin/users/:id/invitation        revoke: the link dies, the pending member goes
 *   POST   /api/admin/users/:id/password-reset    a single-use, expiring reset link by e-mail;
 *                                                 sessions revoked (a pending invitee: resend)
 *   POST   /api/admin/users/:id/deactivate        no more log-in; sessions revoked
 *   DELETE /api/admin/users/:id                   remove the user from the tenant; sessions revoked
 *   PUT    /api/admin/users/:id/role              change role; sessions revoked (new token at next log-in)
 *   GET    /api/admin/audit                       the tenant's audit log, filtered and paged (./audit.ts)
 */
/** Early 403 from the compiled guard map (permissions.yml): the database (RLS) still decides. */
function allowed(role: string | undefined, action: Action): boolean {
  return can(role, 'memberships', action);
}
/** How long an invitation link lives. */
export const INVITATION_HOURS = 48;

const MemberStatus = StringEnum(['active', 'deactivated', 'pending', 'expired']);
export type MemberStatus = Static<typeof MemberStatus>;

const MemberList = Type.Object({
  users: Type.Array(
    Type.Object({
      id: Type.String(),
      email: Nullable(Type.String()),
      displayName: Nullable(Type.String()),
      role: Type.String(),
      status: MemberStatus,
      active: Type.Boolean(),
      invitationExpiresAt: Nullable(Type.String({ format: 'date-time' })),
    }),
  ),
});
const Invited = Type.Object({
  user: Type.Object({ id: Type.String(), email: Type.String(), role: Type.String(), status: Type.Literal('pending') }),
  invitationExpiresAt: Type.String({ format: 'date-time' }),
  expiresInHours: Type.Integer(),
});
const Resent = Type.Object({
  id: Type.String(),
  status: Type.Literal('pending'),
  invitationExpiresAt: Type.String({ format: 'date-time' }),
  expiresInHours: Type.Integer(),
});
/** A password reset link went out, or (for an invitee) a new invitation */
const ResetSent = Type.Object({ sent: StringEnum(['invitation', 'reset']), expiresAt: Type.String({ format: 'date-time' }) });
const byId = { params: IdParams };

/** What the auth subsystem knows of a member: their account's address, or their latest invitation. */
interface AccountFacts {
  user_id: string;
  account_email: string | null;
  invite_email: string | null;
  invite_expires_at: string | null;
  invite_live: boolean | null;
}

const ACCOUNT_FACTS_SQL = `
  select u.user_id, c.email as account_email, i.email as invite_email, i.expires_at as invite_expires_at, i.live as invite_live
    from unnest($1::uuid[]) as u(user_id)
    left join app_private.credentials c on c.user_id = u.user_id
    left join lateral (select r.email, r.expires_at, (r.used_at is null and r.expires_at > now()) as live
                         from app_private.password_resets r
                        where r.user_id = u.user_id and r.purpose = 'invite'
                        order by r.created_at desc limit 1) i on true`;

function invitationPath(token: string): string {
  // the token travels in the fragment: never sent to a server, never in a log
  return `/invitation#token=${token}`;
}

export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, mail, config } = app.xms;

  const notFound = (reply: FastifyReply) => reply.code(404).send({ error: 'not_found', message: 'No such user in this tenant.' });
  const notPending = (reply: FastifyReply) =>
    reply.code(409).send({ error: 'not_pending', message: 'This member has accepted their invitation: use "reset password" instead.' });
  const forbidden = (reply: FastifyReply) =>
    reply.code(403).send({ error: 'forbidden', message: 'permissions.yml does not allow this for your role.' });
  const unknownRole = (reply: FastifyReply) => reply.code(400).send({ error: 'unknown_role', message: 'No such role in permissions.yml.' });
  const notSelf = (reply: FastifyReply) =>
    reply.code(400).send({ error: 'own_account', message: 'Administrators cannot do this to their own account.' });

  /** Runs `task` once the response went out with a success (the transaction has committed). */
  const afterCommit = (reply: FastifyReply, task: () => Promise<void>) =>
    reply.then(
      () => {
        if (reply.statusCode < 400) mail.background(task);
      },
      () => undefined,
    );

  /** The auth subsystem's facts about members of this tenant (inside the admin's transaction). */
  const accountFacts = (ids: string[]) => (ids.length ? db.asAuth((tx) => tx.query<AccountFacts>(ACCOUNT_FACTS_SQL, [ids])) : Promise.resolve([]));

  /** A member of this tenant (RLS bounds the lookup), with what the auth subsystem knows of them. */
  async function member(request: FastifyRequest, id: string): Promise<AccountFacts | undefined> {
    const found = await request.withDb((tx) =>
      tx.query('select 1 as found from app.memberships where user_id = $1 and tenant_id = (select app.current_tenant_id())', [id]),
    );
    if (found.rows.length === 0) return undefined;
    return (await accountFacts([id]))[0];
  }

  /**
   * Issues an invitation to `userId` (a pending member of this tenant): every earlier link of theirs
   * dies, a new one is stored (its SHA-256, in the admin's request transaction: audited, admin as
   * actor), and e-mailed after the commit. To an address that already has an account the message
   * says so: its link lets that account join with its own password (src/auth/invitations.ts), never
   * set one, so the account is never taken over; only the mailbox learns the account exists.
   */
  async function invite(request: FastifyRequest, reply: FastifyReply, userId: string, email: string): Promise<Date> {
    const token = newToken();
    const session = request.session!;
    await db.asAuth((tx) => tx.query('update app_private.password_resets set used_at = now() where user_id = $1 and used_at is null', [userId]), {
      actor: session.userId,
    });
    const tenantName = await request.withDb(async (tx: Tx) => {
      // no RETURNING: an admin may write a token but never read one back
      await tx.query(
        `insert into app_private.password_resets (token_hash, user_id, tenant_id, email, purpose, created_by, expires_at)
         values ($1, $2, (select app.current_tenant_id()), $3, 'invite', (select app.current_user_id()), now() + make_interval(hours => $4::int))`,
        [tokenHash(token), userId, email, INVITATION_HOURS],
      );
      const tenant = await tx.query<{ name: string }>('select name from app.tenants where id = (select app.current_tenant_id())');
      return tenant.rows[0]?.name ?? '';
    });
    const expiresAt = new Date(Date.now() + INVITATION_HOURS * 3_600_000);
    afterCommit(reply, async () => {
      const existing = await db.asAuth((tx) => tx.query('select 1 as found from app_private.credentials where email = $1', [email]));
      const appName = config.mail.appName;
      const input = { appName, tenantName, link: mail.link(invitationPath(token)), hours: INVITATION_HOURS };
      const body = existing.length ? invitationForExistingAccountMessage(input) : invitationMessage(input);
      await mail.send({ to: email, ...body });
    });
    return expiresAt;
  }

  app.get('/users', { schema: { response: { 200: MemberList, ...errorResponses } } }, async (request, reply) => {
    if (!allowed(request.session?.role, 'select')) return forbidden(reply);
    const members = await request.withDb((tx) =>
      tx.query<{ user_id: string; role: string; deactivated_at: string | null; display_name: string | null }>(
        `select m.user_id, m.role, m.deactivated_at, u.display_name
           from app.memberships m left join app.users u on u.id = m.user_id
          where m.tenant_id = (select app.current_tenant_id())
          order by m.created_at`,
      ),
    );
    const facts = new Map((await accountFacts(members.rows.map((row) => row.user_id))).map((row) => [row.user_id, row]));
    return {
      users: members.rows.map((row) => {
        const fact = facts.get(row.user_id);
        const status: MemberStatus = fact?.account_email
          ? row.deactivated_at === null ? 'active' : 'deactivated'
          : fact?.invite_live ? 'pending' : 'expired';
        return {
          id: row.user_id,
          // an invitee's address is the one the admin typed: nothing about any account is revealed
          email: fact?.account_email ?? fact?.invite_email ?? null,
          displayName: row.display_name,
          role: row.role,
          status,
          active: status === 'active',
          invitationExpiresAt: fact?.account_email ? null : fact?.invite_expires_at ? new Date(fact.invite_expires_at).toISOString() : null,
        };
      }),
    };
  });

  app.post(
    '/users',
    {
      schema: {
        body: Strict({ email: Email, role: RoleName, displayName: Type.Optional(Type.String({ maxLength: 200 })) }),
        response: { 201: Invited, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (!allowed(request.session?.role, 'insert')) return forbidden(reply);
      if (!isRole(body.role)) return unknownRole(reply);
      let email: string;
      try {
        email = normaliseEmail(body.email);
      } catch (error) {
        if (error instanceof AccountError) return reply.code(error.status).send({ error: error.code, message: error.message });
        throw error;
      }
      // No lookup of any account: an address registered anywhere (another tenant, this one) gets
      // exactly the answer a new one gets, by the same code path, and the link goes to the mailbox,
      // not to the admin, so an admin (anyone who signs up is one) cannot probe for accounts. The
      // one lookup is of this tenant's own pending invitations: inviting that address again resends.
      const pending = await db.asAuth((tx) =>
        tx.query<{ user_id: string }>(
          `select r.user_id from app_private.password_resets r
            where r.tenant_id = $2 and r.email = $1 and r.purpose = 'invite'
              and not exists (select from app_private.credentials c where c.user_id = r.user_id)
              and exists (select from app.memberships m where m.user_id = r.user_id and m.tenant_id = r.tenant_id)
            order by r.created_at desc limit 1`,
          [email, request.session!.tenantId],
        ),
      );
      let userId = pending[0]?.user_id;
      if (userId) {
        await request.withDb((tx) =>
          tx.query('update app.memberships set role = $2 where user_id = $1 and tenant_id = (select app.current_tenant_id())', [userId, body.role]),
        );
      } else {
        // the bare user row is written by the auth subsystem, in the admin's name (audit.log actor)
        const created = await db.asAuth(
          (tx) => tx.query<{ id: string }>('insert into app.users (display_name) values ($1) returning id', [(body.displayName ?? '').trim()]),
          { actor: request.session!.userId },
        );
        userId = created[0]!.id;
        await request.withDb((tx) =>
          tx.query('insert into app.memberships (user_id, tenant_id, role) values ($1, (select app.current_tenant_id()), $2)', [userId, body.role]),
        );
      }
      const expiresAt = await invite(request, reply, userId, email);
      return reply.code(201).send({
        user: { id: userId, email, role: body.role, status: 'pending' as const },
        invitationExpiresAt: expiresAt.toISOString(),
        expiresInHours: INVITATION_HOURS,
      });
    },
  );

  app.post('/users/:id/invitation', { schema: { ...byId, response: { 200: Resent, ...errorResponses } } }, async (request, reply) => {
    const { id } = request.params;
    if (!allowed(request.session?.role, 'insert')) return forbidden(reply);
    const facts = await member(request, id);
    if (!facts) return notFound(reply);
    if (facts.account_email || !facts.invite_email) return notPending(reply);
    const expiresAt = await invite(request, reply, id, facts.invite_email);
    return { id, status: 'pending' as const, invitationExpiresAt: expiresAt.toISOString(), expiresInHours: INVITATION_HOURS };
  });

  app.delete('/users/:id/invitation', { schema: { ...byId, response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    const { id } = request.params;
    if (!allowed(request.session?.role, 'delete')) return forbidden(reply);
    const facts = await member(request, id);
    if (!facts) return notFound(reply);
    if (facts.account_email) return notPending(reply);
    await db.asAuth((tx) => tx.query('update app_private.password_resets set used_at = now() where user_id = $1 and used_at is null', [id]), {
      actor: request.session!.userId,
    });
    await request.withDb((tx) => tx.query('delete from app.memberships where user_id = $1 and tenant_id = (select app.current_tenant_id())', [id]));
    return reply.code(204).send();
  });

  app.post('/users/:id/password-reset', { schema: { ...byId, response: { 200: ResetSent, ...errorResponses } } }, async (request, reply) => {
    const { id } = request.params;
    const session = request.session!;
    if (!allowed(session.role, 'select')) return forbidden(reply);
    const facts = await member(request, id);
    if (!facts) return notFound(reply);
    if (!facts.account_email) {
      // an invitee has no password yet: "reset" resends their invitation
      if (!facts.invite_email) return notFound(reply);
      const expiresAt = await invite(request, reply, id, facts.invite_email);
      return { sent: 'invitation' as const, expiresAt: expiresAt.toISOString() };
    }
    const email = facts.account_email;
    const token = newToken();
    await request.withDb((tx) =>
      tx.query(
        `insert into app_private.password_resets (token_hash, user_id, tenant_id, email, purpose, created_by, expires_at)
         values ($1, $2, (select app.current_tenant_id()), $3, 'reset', (select app.current_user_id()), now() + make_interval(mins => $4::int))`,
        [tokenHash(token), id, email, RESET_MINUTES],
      ),
    );
    if (id !== session.userId) await revokeUserSessions(db, id, session.userId);
    afterCommit(reply, () =>
      mail.send({ to: email, ...passwordResetMessage({ appName: config.mail.appName, link: mail.link(resetPath(token)), minutes: RESET_MINUTES, byAdmin: true }) }),
    );
    return { sent: 'reset' as const, expiresAt: new Date(Date.now() + RESET_MINUTES * 60_000).toISOString() };
  });

  app.post('/users/:id/deactivate', { schema: { ...byId, response: { 200: Type.Object({ id: Type.String(), active: Type.Boolean() }), ...errorResponses } } }, async (request, reply) => {
    const { id } = request.params;
    if (!allowed(request.session?.role, 'update')) return forbidden(reply);
    if (id === request.session!.userId) return notSelf(reply);
    const rows = await request.withDb((tx) =>
      tx.query('update app.memberships set deactivated_at = now() where user_id = $1 and tenant_id = (select app.current_tenant_id()) returning user_id', [id]),
    );
    if (rows.rows.length === 0) return notFound(reply);
    await revokeUserSessions(db, id, request.session!.userId);
    return { id, active: false };
  });

  app.delete('/users/:id', { schema: { ...byId, response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    const { id } = request.params;
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
        ...byId,
        body: Strict({ role: RoleName }),
        response: { 200: Type.Object({ id: Type.String(), role: Type.String() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { role } = request.body;
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
  // the audit log: src/routes/admin/audit.ts
  await app.register(auditRoutes);
  // xms:admin-routes (`xms add admin-function` registers its routes above this line)
};
