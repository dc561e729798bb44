import type { AppConfig } from '../config.js';
import { verifyPassword } from '../security/passwords.js';
import { tokenHash } from '../security/tokens.js';
import type { AuthDb } from '../server/db.js';
import { AccountError, type Membership } from './accounts.js';
import { hasSecondFactor, mfaRequired, verifySecondFactor } from './mfa.js';
import { chooseTenant } from './tenants.js';

/**
 * An invitation accepted by an account that already exists (migration 20240101000380_xms_tenant_join.sql),
 * as the auth subsystem (xms_auth). An admin's invitation is a single-use token (stored as SHA-256)
 * for a pending member of their tenant (src/routes/admin/index.ts); the same link goes to every
 * address. When the address has an account, the link alone gives nothing: accepting takes the
 * account's password, and its second factor when it has one. It never sets or changes a password.
 * In one transaction, with the account as the audit actor: the token is spent (a conditional update,
 * so two accepts at once give one membership), the account becomes a member of the inviting tenant
 * with the invited role, and the pending member's membership goes. A membership the account already
 * has there is left as it is (an invitation never changes a role, nor undoes a deactivation).
 * Afterwards the account picks or switches to that tenant like any other of its own.
 */
export const INVALID_INVITATION = new AccountError(400, 'invalid_token', 'This link is invalid or has expired.');
export const WRONG_PASSWORD = new AccountError(401, 'invalid_credentials', 'This password is not the account\'s.');
export const SECOND_FACTOR_NEEDED = new AccountError(
  401,
  'mfa_required',
  'Enter the code of your authenticator app, or a recovery code.',
);
export const NO_ACCOUNT = new AccountError(409, 'no_account', 'This address has no account yet: choose a password to accept the invitation.');

export interface Invitation {
  email: string;
  tenantName: string;
  /** whether the address has an account (accept with its password) or not (choose one) */
  existingAccount: boolean;
}

/**
 * What a live invitation token is for: its address, the inviting tenant's name and whether the
 * address has an account. Only the link's holder (the mailbox) asks; undefined for an unknown,
 * used or expired token, or one that is not an invitation.
 */
export async function findInvitation(db: AuthDb, token: string): Promise<Invitation | undefined> {
  const rows = await db.asAuth((tx) =>
    tx.query<{ email: string; tenant_name: string; existing: boolean }>(
      `select r.email, t.name as tenant_name,
              exists (select from app_private.credentials c where c.email = r.email) as existing
         from app_private.password_resets r join app.tenants t on t.id = r.tenant_id
        where r.token_hash = $1 and r.purpose = 'invite' and r.used_at is null and r.expires_at > now()`,
      [tokenHash(token)],
    ),
  );
  const row = rows[0];
  return row ? { email: row.email, tenantName: row.tenant_name, existingAccount: row.existing } : undefined;
}

/**
 * Accepts the invitation of `token` for the account its address belongs to, after that account's
 * password (and second factor, `code`, when it has one). Returns the new membership and whether its
 * role requires a second factor the account lacks (the session is then enrol-only, as after a log-in
 * or a switch to that tenant). Throws INVALID_INVITATION, NO_ACCOUNT, WRONG_PASSWORD,
 * SECOND_FACTOR_NEEDED, an MfaError for a wrong code, or NOT_A_MEMBER (a deactivated membership there).
 */
export async function joinByInvitation(
  db: AuthDb,
  config: AppConfig,
  token: string,
  password: string,
  code: string | undefined,
): Promise<{ membership: Membership; enrolOnly: boolean }> {
  const invitation = await findInvitation(db, token);
  if (!invitation) throw INVALID_INVITATION;
  const accounts = await db.asAuth((tx) =>
    tx.query<{ user_id: string; password_hash: string }>('select user_id, password_hash from app_private.credentials where email = $1', [invitation.email]),
  );
  const account = accounts[0];
  if (!account) throw NO_ACCOUNT;
  if (!(await verifyPassword(account.password_hash, password))) throw WRONG_PASSWORD;
  const hasFactor = await hasSecondFactor(db, account.user_id);
  if (hasFactor && !code) throw SECOND_FACTOR_NEEDED;

  const tenantId = await db.asAuthTx(async (tx) => {
    // the code is spent only if the whole acceptance commits
    if (hasFactor) await verifySecondFactor(tx, config, account.user_id, code!);
    const spent = await tx.query<{ user_id: string; tenant_id: string }>(
      `update app_private.password_resets set used_at = now()
        where token_hash = $1 and purpose = 'invite' and email = $2 and used_at is null and expires_at > now()
        returning user_id, tenant_id`,
      [tokenHash(token), invitation.email],
    );
    const invite = spent.rows[0];
    if (!invite) throw INVALID_INVITATION; // used, revoked or expired meanwhile (a parallel accept)
    // the pending member's membership carries the invited role (the policy lets xms_auth remove
    // only a membership of a user without credentials: never an account's)
    const pending = await tx.query<{ role: string }>(
      'delete from app.memberships where user_id = $1 and tenant_id = $2 returning role',
      [invite.user_id, invite.tenant_id],
    );
    const role = pending.rows[0]?.role;
    if (!role) throw INVALID_INVITATION; // the admin removed the pending member
    await tx.query(
      'insert into app.memberships (user_id, tenant_id, role) values ($1, $2, $3) on conflict (user_id, tenant_id) do nothing',
      [account.user_id, invite.tenant_id, role],
    );
    // the link came to the account's address: that confirms it, as a reset link does
    await tx.query(
      'update app_private.credentials set email_verified_at = now() where user_id = $1 and email = $2 and email_verified_at is null',
      [account.user_id, invitation.email],
    );
    return invite.tenant_id;
  }, { actor: account.user_id });

  // the membership as it now is (a deactivated one there stays so: NOT_A_MEMBER)
  const membership = await chooseTenant(db, account.user_id, tenantId);
  return { membership, enrolOnly: mfaRequired(config, membership.role) && !hasFactor };
}
