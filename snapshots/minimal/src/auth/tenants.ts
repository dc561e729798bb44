import type { AppConfig } from '../config.js';
import type { AuthDb } from '../server/db.js';
import { AccountError, INVALID_CREDENTIALS, type Membership } from './accounts.js';
import { hasSecondFactor, mfaRequired } from './mfa.js';
import { createSession, revokeSession } from './sessions.js';

/**
 * Several tenants, as the auth subsystem (xms_auth). A session is bound to exactly one tenant (its
 * tenant_id and the role of that membership); the request path re-checks on every request that the
 * membership is still live with that role (src/db/request.ts). So:
 *
 *   - at log-in, after the password (and before any second factor and the session), a user with
 *     several live memberships names one (`chooseTenant`); without a choice the answer lists them
 *     (409 choose_tenant) and nothing else happens;
 *   - switching (`switchTenant`) issues a NEW session for the other tenant and revokes the current
 *     one, in the request's one transaction: never both, never neither; the new session is enrol-only
 *     when that tenant's role requires a second factor the user lacks (src/auth/mfa.ts);
 *   - a tenant is accepted only from the user's own live memberships, looked up by the user id of the
 *     password check or of the live session, never from anything the client asserts.
 */
export interface TenantOption {
  id: string;
  name: string;
  role: string;
}

/** The password was right and the user belongs to several tenants: the client picks one and logs in again with it. */
export class TenantChoiceRequired extends AccountError {
  constructor(readonly tenants: TenantOption[]) {
    super(409, 'choose_tenant', 'Choose the organisation to open.');
  }
}

export const NOT_A_MEMBER = new AccountError(403, 'not_a_member', 'You are not a member of this organisation.');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The user's live memberships, oldest first, with the tenants' names. */
export async function liveMemberships(db: AuthDb, userId: string): Promise<TenantOption[]> {
  return db.asAuth(
    (tx) =>
      tx.query<TenantOption>(
        `select t.id, t.name, m.role
           from app.memberships m join app.tenants t on t.id = m.tenant_id
          where m.user_id = $1 and m.deactivated_at is null
          order by m.created_at, t.id`,
        [userId],
      ),
    { actor: userId },
  );
}

/**
 * The membership a new session is for: the one named by `tenantId` (refused unless it is one of the
 * user's live memberships), or the only one. Throws TenantChoiceRequired when the user has several
 * and named none, INVALID_CREDENTIALS when none is left.
 */
export async function chooseTenant(db: AuthDb, userId: string, tenantId: unknown): Promise<Membership> {
  const options = await liveMemberships(db, userId);
  if (options.length === 0) throw INVALID_CREDENTIALS;
  if (tenantId === undefined || tenantId === null) {
    if (options.length > 1) throw new TenantChoiceRequired(options);
    return { userId, tenantId: options[0]!.id, role: options[0]!.role };
  }
  const chosen = typeof tenantId === 'string' && UUID.test(tenantId) ? options.find((option) => option.id === tenantId) : undefined;
  if (!chosen) throw NOT_A_MEMBER;
  return { userId, tenantId: chosen.id, role: chosen.role };
}

/**
 * Moves a live session to another of its user's tenants: a new session (new token, the role of that
 * membership) replaces the current one, which is revoked. Returns the new token, for the cookie only.
 */
export async function switchTenant(
  db: AuthDb,
  config: AppConfig,
  session: { token: string; userId: string },
  tenantId: unknown,
  userAgent?: string,
): Promise<{ token: string; membership: Membership }> {
  if (tenantId === undefined) throw NOT_A_MEMBER;
  const membership = await chooseTenant(db, session.userId, tenantId);
  // the other tenant's role may require a second factor the user has not enrolled (a member here, an
  // admin there): the new session can then only enrol, exactly as after a log-in to that tenant
  const enrolOnly = mfaRequired(config, membership.role) && !(await hasSecondFactor(db, session.userId));
  const token = await createSession(db, config, membership, userAgent, enrolOnly);
  await revokeSession(db, session.token, session.userId);
  return { token, membership };
}
