import { randomUUID } from 'node:crypto';
import type { AppConfig } from '../config.js';
import { nameAuditActor } from '../db/request.js';
import type { Mailer } from '../mail/mailer.js';
import { passwordResetMessage } from '../mail/messages.js';
import { hashPassword, passwordProblem, verifyAgainstDummy, verifyPassword } from '../security/passwords.js';
import { newToken, tokenHash } from '../security/tokens.js';
import type { AuthDb } from '../server/db.js';
import { revokeUserSessions } from './sessions.js';

/**
 * Accounts, as the auth subsystem (xms_auth). Every message is the same whether or not an e-mail
 * is registered; unknown e-mails cost the same argon2 time as known ones.
 */
export class AccountError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const INVALID_CREDENTIALS = new AccountError(401, 'invalid_credentials', 'E-mail or password is incorrect.');

/** The right password for an account whose address is not verified yet (said only after the password matched). */
export const EMAIL_NOT_VERIFIED = new AccountError(
  403,
  'email_not_verified',
  'Confirm your e-mail address first: follow the link we sent to it, or ask for a new one.',
);

const EMAIL = /^[^\s@]{1,200}@[^\s@]{1,200}\.[^\s@]{1,100}$/;

/**
 * Characters that draw nothing or steer the text around them: controls (Cc), format characters (Cf:
 * zero-width spaces and joiners, the soft hyphen, bidi controls), private use, surrogates, unassigned
 * code points, and every default-ignorable one (Hangul fillers, variation selectors). An address
 * holding one looks like another address: refused.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;

/**
 * Scripts told apart in one part of an address. A part whose letters come from two of them (Latin `a`
 * with Cyrillic `а`, Greek `ο` with Latin `o`) looks like another address: refused, as in the "highly
 * restrictive" profile of Unicode TS #39, which allows only Latin with Han and the Japanese kana, with
 * Han and Bopomofo, or with Han and Hangul. A letter of any other script counts as a script "other".
 */
const SCRIPTS = [
  'Latin', 'Greek', 'Cyrillic', 'Armenian', 'Georgian', 'Cherokee', 'Hebrew', 'Arabic', 'Devanagari', 'Bengali',
  'Thai', 'Han', 'Hiragana', 'Katakana', 'Hangul', 'Bopomofo',
].map((name) => ({ name, pattern: new RegExp(`^\\p{Script=${name}}$`, 'u') }));
const ALLOWED_MIXES = [
  ['Latin', 'Han', 'Hiragana', 'Katakana'],
  ['Latin', 'Han', 'Bopomofo'],
  ['Latin', 'Han', 'Hangul'],
].map((names) => new Set(names));

function mixesScripts(part: string): boolean {
  const seen = new Set<string>();
  for (const char of part) {
    if (/\p{L}/u.test(char)) seen.add(SCRIPTS.find((script) => script.pattern.test(char))?.name ?? 'other');
  }
  return seen.size > 1 && !ALLOWED_MIXES.some((allowed) => [...seen].every((name) => allowed.has(name)));
}

const INVALID_EMAIL = new AccountError(400, 'invalid_email', 'Enter a valid e-mail address (no invisible characters, one script per part).');

/**
 * THE one normalisation of an e-mail address, used by sign-up, log-in, invitations, resets and the
 * admin functions, and the form stored (the database checks it: 20240101000300_xms_auth.sql):
 * Unicode NFKC (full-width letters, `ℯ`, decomposed accents become their plain form), trimmed, lower
 * case. Refused: invisible or control characters, a trailing dot in the domain, empty domain labels,
 * and a local part or domain label mixing scripts. Throws AccountError (400 invalid_email).
 */
export function normaliseEmail(value: unknown): string {
  if (typeof value !== 'string' || INVISIBLE.test(value)) throw INVALID_EMAIL;
  const email = value.normalize('NFKC').trim().toLowerCase().normalize('NFKC');
  if (INVISIBLE.test(email) || !EMAIL.test(email) || email.length > 320) throw INVALID_EMAIL;
  const [local = '', domain = ''] = email.split('@');
  const labels = domain.split('.');
  if (labels.some((label) => label === '')) throw INVALID_EMAIL; // "example.com." or "a..b"
  if (mixesScripts(local) || labels.some(mixesScripts)) throw INVALID_EMAIL;
  return email;
}

/** normaliseEmail, or undefined for what cannot be any account's address (log-in answers as for an unknown one). */
export function emailOrUndefined(value: unknown): string | undefined {
  try {
    return normaliseEmail(value);
  } catch (error) {
    if (error instanceof AccountError) return undefined;
    throw error;
  }
}

export async function checkPassword(config: AppConfig, password: unknown, email: string): Promise<string> {
  if (typeof password !== 'string') throw new AccountError(400, 'invalid_password', 'Enter a password.');
  const problem = await passwordProblem(password, email, { minLength: config.passwordMinLength, minScore: config.passwordMinScore });
  if (problem) throw new AccountError(400, 'weak_password', problem);
  return password;
}

export interface Membership {
  userId: string;
  tenantId: string;
  role: string;
}

/**
 * Sign-up into a new tenant: the first user of a tenant is its admin. Returns nothing the caller
 * could use to learn whether the address was already registered (the route answers the same way).
 */
export async function signUp(
  db: AuthDb,
  config: AppConfig,
  input: { email: string; password: string; tenantName: string; displayName: string },
): Promise<void> {
  const hash = await hashPassword(input.password);
  // the new user is the actor of every row sign-up writes (audit.log), so its id comes first
  const userId = randomUUID();
  await db.asAuthTx(async (tx) => {
    const existing = await tx.query('select 1 from app_private.credentials where email = $1', [input.email]);
    if (existing.rows.length > 0) return; // same answer, nothing created
    const tenant = await tx.query<{ id: string }>('insert into app.tenants (name) values ($1) returning id', [input.tenantName]);
    await tx.query('insert into app.users (id, display_name) values ($1, $2)', [userId, input.displayName]);
    const tenantId = tenant.rows[0]!.id;
    await tx.query(`insert into app.memberships (user_id, tenant_id, role) values ($1, $2, 'admin')`, [userId, tenantId]);
    await tx.query('insert into app_private.credentials (user_id, email, password_hash) values ($1, $2, $3)', [userId, input.email, hash]);
  }, { actor: userId }).catch((error: unknown) => {
    // a parallel sign-up for the same address won the unique e-mail: nothing created, the same answer
    if ((error as { code?: string }).code !== '23505') throw error;
  });
}

/**
 * Checks a password; returns the user's active membership or throws INVALID_CREDENTIALS. `email` is
 * normalised (normaliseEmail) or undefined when the input cannot be an address: an unknown account
 * costs one argon2 verification against a dummy hash, like a known one.
 */
export async function authenticate(db: AuthDb, email: string | undefined, password: string): Promise<Membership> {
  if (email === undefined) {
    await verifyAgainstDummy(password);
    throw INVALID_CREDENTIALS;
  }
  const rows = await db.asAuth((tx) =>
    tx.query<{ user_id: string; password_hash: string; verified: boolean; tenant_id: string | null; role: string | null }>(
      `select c.user_id, c.password_hash, c.email_verified_at is not null as verified, m.tenant_id, m.role
         from app_private.credentials c
         left join lateral (select m.tenant_id, m.role from app.memberships m
                             where m.user_id = c.user_id and m.deactivated_at is null
                             order by m.created_at limit 1) m on true
        where c.email = $1`,
      [email],
    ),
  );
  const row = rows[0];
  if (!row) {
    await verifyAgainstDummy(password);
    throw INVALID_CREDENTIALS;
  }
  const ok = await verifyPassword(row.password_hash, password);
  if (!ok || !row.tenant_id || !row.role) throw INVALID_CREDENTIALS;
  if (!row.verified) throw EMAIL_NOT_VERIFIED;
  return { userId: row.user_id, tenantId: row.tenant_id, role: row.role };
}

/** How long a "forgot password" link lives (the database refuses more than an hour: 20240101000350_xms_accounts.sql). */
export const RESET_MINUTES = 30;

/** Where a reset link points: the token travels in the fragment (never sent to a server, never logged). */
export function resetPath(token: string): string {
  return `/reset-password#token=${token}`;
}

/**
 * "Forgot password", the part that runs in the background after the route has answered (so the answer
 * and its timing are the same whether or not the address has an account): for a registered address
 * with a live membership, a single-use token valid RESET_MINUTES is stored (its SHA-256 only, audited
 * with the user as the actor) and the link is e-mailed; for any other address nothing is stored or sent.
 */
export async function sendPasswordReset(db: AuthDb, mail: Mailer, appName: string, email: string): Promise<boolean> {
  const token = newToken();
  const issued = await db.asAuthTx(async (tx) => {
    const found = await tx.query<{ user_id: string; tenant_id: string }>(
      `select c.user_id, m.tenant_id
         from app_private.credentials c
         join lateral (select m.tenant_id from app.memberships m
                        where m.user_id = c.user_id and m.deactivated_at is null
                        order by m.created_at limit 1) m on true
        where c.email = $1`,
      [email],
    );
    const account = found.rows[0];
    if (!account) return false;
    await nameAuditActor(tx, account.user_id);
    await tx.query(
      `insert into app_private.password_resets (token_hash, user_id, tenant_id, email, purpose, expires_at)
       values ($1, $2, $3, $4, 'reset', now() + make_interval(mins => $5::int))`,
      [tokenHash(token), account.user_id, account.tenant_id, email, RESET_MINUTES],
    );
    return true;
  });
  if (issued) {
    await mail.send({ to: email, ...passwordResetMessage({ appName, link: mail.link(resetPath(token)), minutes: RESET_MINUTES, byAdmin: false }) });
  }
  return issued;
}

/** The e-mail of a live reset/invitation token (for the per-account rate limit), or undefined. */
export async function resetTokenEmail(db: AuthDb, token: string): Promise<string | undefined> {
  const rows = await db.asAuth((tx) =>
    tx.query<{ email: string }>(
      `select r.email from app_private.password_resets r
        where r.token_hash = $1 and r.used_at is null and r.expires_at > now()`,
      [tokenHash(token)],
    ),
  );
  return rows[0]?.email;
}

/**
 * Redeems a single-use reset (or invitation) token: sets the password, marks the token used, and
 * revokes every session of the user. The link came to the account's address, so following it also
 * verifies that address (an invitation's account is created verified). Throws one generic error for an unknown, used or expired token.
 */
export async function redeemResetToken(db: AuthDb, config: AppConfig, token: string, password: unknown): Promise<void> {
  const email = await resetTokenEmail(db, token);
  if (!email) throw new AccountError(400, 'invalid_token', 'This link is invalid or has expired.');
  const checked = await checkPassword(config, password, email);
  const hash = await hashPassword(checked);
  const userId = await db.asAuthTx(async (tx): Promise<string | undefined> => {
    // whoever holds the token acts as its user (audit.log actor of what follows)
    const holder = await tx.query<{ user_id: string }>(
      'select user_id from app_private.password_resets where token_hash = $1 and used_at is null and expires_at > now()',
      [tokenHash(token)],
    );
    if (!holder.rows[0]) return undefined;
    await nameAuditActor(tx, holder.rows[0].user_id);
    const used = await tx.query<{ user_id: string; email: string }>(
      `update app_private.password_resets set used_at = now()
        where token_hash = $1 and used_at is null and expires_at > now()
        returning user_id, email`,
      [tokenHash(token)],
    );
    const reset = used.rows[0];
    if (!reset) return undefined;
    await tx.query(
      `insert into app_private.credentials (user_id, email, password_hash, email_verified_at) values ($1, $2, $3, now())
       on conflict (user_id) do update set password_hash = excluded.password_hash, updated_at = now(),
         email_verified_at = coalesce(app_private.credentials.email_verified_at,
                                      case when app_private.credentials.email = excluded.email then now() end)`,
      [reset.user_id, reset.email, hash],
    );
    // every other outstanding token of this user dies too (a pending address change included)
    await tx.query('update app_private.password_resets set used_at = now() where user_id = $1 and used_at is null', [reset.user_id]);
    await tx.query('update app_private.email_verifications set used_at = now() where user_id = $1 and used_at is null', [reset.user_id]);
    return reset.user_id;
  }).catch((error: unknown) => {
    // an invitation whose address was registered meanwhile (unique e-mail): nothing was changed
    if ((error as { code?: string }).code === '23505') return undefined;
    throw error;
  });
  if (!userId) throw new AccountError(400, 'invalid_token', 'This link is invalid or has expired.');
  await revokeUserSessions(db, userId, userId);
}
