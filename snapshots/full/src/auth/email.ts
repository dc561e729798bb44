import { nameAuditActor } from '../db/request.js';
import type { Mailer } from '../mail/mailer.js';
import { emailChangeNoticeMessage, verifyEmailMessage } from '../mail/messages.js';
import { verifyPassword } from '../security/passwords.js';
import { newToken, tokenHash } from '../security/tokens.js';
import type { AuthDb } from '../server/db.js';
import { AccountError } from './accounts.js';

/**
 * E-mail verification, as the auth subsystem (xms_auth). An account proves it reads its address by
 * following an e-mailed link: a single-use token of 256 random bits, stored as its SHA-256 in
 * app_private.email_verifications, valid VERIFY_HOURS. Until then it gets no session (the database
 * refuses the row: 20240101000370_xms_account_email.sql), so it cannot act on any data.
 *
 *   signup  the account's own address; following the link marks it verified
 *   change  a new address for a verified account; following the link replaces the address (the old
 *           one was told when the change was asked for)
 *
 * Issuing a link kills every earlier link of the same purpose for that user: only the newest works.
 */
export const VERIFY_HOURS = 24;

/** Where a verification link points: the token travels in the fragment (never sent to a server, never logged). */
export function verifyPath(token: string): string {
  return `/verify-email#token=${token}`;
}

export const INVALID_LINK = new AccountError(400, 'invalid_token', 'This link is invalid, already used or expired: ask for a new one.');

async function issue(db: AuthDb, userId: string, email: string, purpose: 'signup' | 'change'): Promise<string> {
  const token = newToken();
  await db.asAuthTx(async (tx) => {
    await nameAuditActor(tx, userId);
    await tx.query(`update app_private.email_verifications set used_at = now() where user_id = $1 and purpose = $2 and used_at is null`, [userId, purpose]);
    await tx.query(
      `insert into app_private.email_verifications (token_hash, user_id, email, purpose, expires_at)
       values ($1, $2, $3, $4, now() + make_interval(hours => $5::int))`,
      [tokenHash(token), userId, email, purpose, VERIFY_HOURS],
    );
  });
  return token;
}

/**
 * Sends a new sign-up link to `email` if it belongs to an account still waiting for verification;
 * for any other address nothing is stored or sent. Runs after the route has answered (mail.background),
 * so neither the answer nor its timing says which it was.
 */
export async function sendSignupVerification(db: AuthDb, mail: Mailer, appName: string, email: string): Promise<boolean> {
  const rows = await db.asAuth((tx) =>
    tx.query<{ user_id: string }>('select user_id from app_private.credentials where email = $1 and email_verified_at is null', [email]),
  );
  const account = rows[0];
  if (!account) return false;
  const token = await issue(db, account.user_id, email, 'signup');
  await mail.send({ to: email, ...verifyEmailMessage({ appName, link: mail.link(verifyPath(token)), hours: VERIFY_HOURS, purpose: 'signup' }) });
  return true;
}

/** The user and address of a live link (for the per-account rate limit), or undefined. */
export async function verificationTokenEmail(db: AuthDb, token: string): Promise<string | undefined> {
  const rows = await db.asAuth((tx) =>
    tx.query<{ email: string }>(
      'select email from app_private.email_verifications where token_hash = $1 and used_at is null and expires_at > now()',
      [tokenHash(token)],
    ),
  );
  return rows[0]?.email;
}

/**
 * Follows a link, once: a sign-up link marks the address verified; a change link replaces the
 * account's address with the verified new one (refused, with nothing changed, when another account
 * registered that address meanwhile). The token is marked used in the same transaction, by a
 * conditional update, so two requests with one link cannot both succeed.
 */
export async function redeemVerification(db: AuthDb, token: string): Promise<{ email: string; purpose: 'signup' | 'change' }> {
  const result = await db
    .asAuthTx(async (tx) => {
      // whoever holds the link acts as its user (the audit.log actor of every row written here)
      const holder = await tx.query<{ user_id: string }>(
        'select user_id from app_private.email_verifications where token_hash = $1 and used_at is null and expires_at > now()',
        [tokenHash(token)],
      );
      if (!holder.rows[0]) return undefined;
      await nameAuditActor(tx, holder.rows[0].user_id);
      const used = await tx.query<{ user_id: string; email: string; purpose: 'signup' | 'change' }>(
        `update app_private.email_verifications set used_at = now()
          where token_hash = $1 and used_at is null and expires_at > now()
          returning user_id, email, purpose`,
        [tokenHash(token)],
      );
      const link = used.rows[0];
      if (!link) return undefined;
      if (link.purpose === 'signup') {
        const verified = await tx.query(
          `update app_private.credentials set email_verified_at = now()
            where user_id = $1 and email = $2 and email_verified_at is null returning user_id`,
          [link.user_id, link.email],
        );
        if (verified.rows.length === 0) return undefined;
      } else {
        const changed = await tx.query(
          'update app_private.credentials set email = $2, email_verified_at = now(), updated_at = now() where user_id = $1 returning user_id',
          [link.user_id, link.email],
        );
        if (changed.rows.length === 0) return undefined;
        // links sent to the old address (password resets) die with it
        await tx.query(`update app_private.password_resets set used_at = now() where user_id = $1 and used_at is null`, [link.user_id]);
        await tx.query(`update app_private.email_verifications set used_at = now() where user_id = $1 and used_at is null`, [link.user_id]);
      }
      return { email: link.email, purpose: link.purpose };
    })
    .catch((error: unknown) => {
      // the new address was registered by another account meanwhile (unique e-mail): nothing changed
      if ((error as { code?: string }).code === '23505') return undefined;
      throw error;
    });
  if (!result) throw INVALID_LINK;
  return result;
}

/**
 * An address change, asked for by a signed-in user who confirms it with their password. The answer
 * is the same whether or not the new address is free; in the background (`mail.background`), a link
 * goes to the new address when no account holds it, and the current address is told either way.
 * Throws AccountError for a wrong password or the current address.
 */
export async function requestEmailChange(
  db: AuthDb,
  mail: Mailer,
  appName: string,
  input: { userId: string; password: string; newEmail: string },
): Promise<void> {
  const rows = await db.asAuth(
    (tx) => tx.query<{ email: string; password_hash: string }>('select email, password_hash from app_private.credentials where user_id = $1', [input.userId]),
    { actor: input.userId },
  );
  const current = rows[0];
  if (!current || !(await verifyPassword(current.password_hash, input.password))) {
    throw new AccountError(403, 'invalid_password', 'The password is incorrect.');
  }
  if (current.email === input.newEmail) throw new AccountError(400, 'same_email', 'This is already your address.');
  mail.background(async () => {
    const taken = await db.asAuth((tx) => tx.query('select 1 from app_private.credentials where email = $1', [input.newEmail]));
    if (taken.length === 0) {
      const token = await issue(db, input.userId, input.newEmail, 'change');
      await mail.send({
        to: input.newEmail,
        ...verifyEmailMessage({ appName, link: mail.link(verifyPath(token)), hours: VERIFY_HOURS, purpose: 'change' }),
      });
    }
    await mail.send({ to: current.email, ...emailChangeNoticeMessage({ appName, newAddress: input.newEmail, loginLink: mail.link('/') }) });
  });
}
