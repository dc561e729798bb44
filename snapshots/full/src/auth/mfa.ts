import { createHash, randomBytes } from 'node:crypto';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import * as OTPAuth from 'otpauth';
import QRCode from 'qrcode';
import type { AppConfig } from '../config.js';
import { isWellFormedToken, newToken, tokenHash } from '../security/tokens.js';
import type { AuthDb, Tx } from '../server/db.js';
import { hasAnyFactor, listPasskeys, lockFactors, takeLoginChallenge, usePasskey, type PasskeyInfo, type RelyingParty } from './passkeys.js';

/**
 * The second factor (migration 20240101000360_xms_mfa.sql): TOTP (RFC 6238: SHA-1, 6 digits, 30 s,
 * the parameters every authenticator app supports) through the `otpauth` library, and ten single-use
 * recovery codes. Everything runs as the auth subsystem (xms_auth), with the user as the audit actor.
 *
 * - A code is accepted for the current step or the one before or after (clock drift), and only for a
 *   step newer than the last one accepted: the update that records it is conditional, so a replayed
 *   code, or the same code sent twice in parallel, is refused.
 * - Recovery codes: 80 random bits each, shown once, stored as SHA-256 and spent by a conditional
 *   update (single use, race-free). Looking a code up by its hash compares no secret byte by byte in
 *   JavaScript (the hash of an unknown code reveals nothing about the stored ones).
 * - The pending log-in (after the password, before the second factor) is a token in its own cookie,
 *   stored as SHA-256, single use, CHALLENGE_MINUTES long; it is no session: nothing accepts it as one.
 * - A passkey (src/auth/passkeys.ts) is a second factor as well: a user may have TOTP, passkeys or
 *   both; the recovery codes live as long as any factor does.
 */
export const TOTP_PERIOD = 30;
export const RECOVERY_CODE_COUNT = 10;
export const CHALLENGE_MINUTES = 5;

export class MfaError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const INVALID_CODE = new MfaError(401, 'invalid_code', 'This code is not valid. Enter the current code of your authenticator app, or an unused recovery code.');
export const INVALID_PASSKEY = new MfaError(401, 'invalid_passkey', 'This passkey could not be verified. Try again, or use a code.');

/** Whether the configuration requires a second factor of a user with this matrix role. */
export function mfaRequired(config: AppConfig, role: string): boolean {
  return config.mfaRequiredFor === 'all' || (config.mfaRequiredFor === 'admin' && role === 'admin');
}

/**
 * What an enrol-only session may reach (src/server/app.ts refuses the rest with 403): the user, the
 * enrolment and log-out. The database refuses the rest as well (no identity: the migration above).
 */
export const ENROL_ONLY_ROUTES: ReadonlySet<string> = new Set([
  'GET /api/me',
  'POST /api/auth/logout',
  'GET /api/mfa',
  'POST /api/mfa/enrol',
  'POST /api/mfa/enrol/confirm',
  'POST /api/mfa/passkeys/register/options',
  'POST /api/mfa/passkeys/register',
]);

function totp(config: AppConfig, secret: string, label: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({
    issuer: config.mail.appName,
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD,
    secret: OTPAuth.Secret.fromBase32(secret),
  });
}

/** The step of a valid code (window: one step either side), or undefined. */
function acceptedStep(config: AppConfig, secret: string, code: string): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const now = Date.now();
  const delta = totp(config, secret, 'x').validate({ token: code, timestamp: now, window: 1 });
  return delta === null ? undefined : Math.floor(now / 1000 / TOTP_PERIOD) + delta;
}

/** A recovery code as typed (any case, spaces or dashes) in its one stored form: 16 base32 letters. */
function normaliseRecoveryCode(value: string): string | undefined {
  const code = value.toUpperCase().replace(/[\s-]/g, '');
  return /^[A-Z2-7]{16}$/.test(code) ? code : undefined;
}

function recoveryCodeHash(code: string): Buffer {
  return createHash('sha256').update(code, 'utf8').digest();
}

function newRecoveryCodes(): string[] {
  // 10 random bytes = 80 bits = 16 base32 letters, shown as four groups of four
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => new OTPAuth.Secret({ buffer: randomBytes(10).buffer }).base32.replace(/(.{4})(?!$)/g, '$1-'));
}

export async function storeRecoveryCodes(tx: Tx, userId: string): Promise<string[]> {
  const codes = newRecoveryCodes();
  await tx.query('delete from app_private.mfa_recovery_codes where user_id = $1', [userId]);
  await tx.query(
    'insert into app_private.mfa_recovery_codes (code_hash, user_id) select unnest($1::bytea[]), $2',
    [codes.map((code) => recoveryCodeHash(normaliseRecoveryCode(code)!)), userId],
  );
  return codes;
}

export interface MfaStatus {
  /** any second factor: TOTP or a passkey */
  enrolled: boolean;
  totp: boolean;
  passkeys: PasskeyInfo[];
  required: boolean;
  recoveryCodesLeft: number;
}

export async function mfaStatus(db: AuthDb, config: AppConfig, user: { userId: string; role: string }): Promise<MfaStatus> {
  const rows = await db.asAuth((tx) =>
    tx.query<{ totp: boolean; left: number }>(
      `select exists (select from app_private.mfa_factors f where f.user_id = $1 and f.confirmed_at is not null) as totp,
              (select count(*)::int from app_private.mfa_recovery_codes r where r.user_id = $1 and r.used_at is null) as left`,
      [user.userId],
    ),
  );
  const passkeys = await listPasskeys(db, user.userId);
  const totp = rows[0]!.totp;
  return { enrolled: totp || passkeys.length > 0, totp, passkeys, required: mfaRequired(config, user.role), recoveryCodesLeft: rows[0]!.left };
}

/** The user's second factors: a confirmed TOTP factor, passkeys. */
export async function secondFactors(db: AuthDb, userId: string): Promise<{ totp: boolean; passkey: boolean }> {
  const rows = await db.asAuth((tx) =>
    tx.query<{ totp: boolean; passkey: boolean }>(
      `select exists (select from app_private.mfa_factors where user_id = $1 and confirmed_at is not null) as totp,
              exists (select from app_private.passkeys where user_id = $1) as passkey`,
      [userId],
    ),
  );
  return rows[0]!;
}

/** Whether the user has a second factor (TOTP or a passkey). */
export async function hasSecondFactor(db: AuthDb, userId: string): Promise<boolean> {
  const factors = await secondFactors(db, userId);
  return factors.totp || factors.passkey;
}

/**
 * Enrolment, step one: a new secret (160 bits) replaces any unconfirmed one; refused while a confirmed
 * factor exists (remove it first). The secret, the otpauth:// URI and its QR code (an SVG data URL:
 * the CSP allows data: images) are returned to the user this once.
 */
export async function startEnrolment(
  db: AuthDb,
  config: AppConfig,
  user: { userId: string; email: string },
): Promise<{ secret: string; uri: string; qr: string }> {
  const secret = new OTPAuth.Secret({ size: 20 }).base32;
  const stored = await db.asAuth(
    (tx) =>
      tx.query(
        `insert into app_private.mfa_factors (user_id, secret) values ($1, $2)
         on conflict (user_id) do update set secret = excluded.secret, last_used_step = 0, created_at = now()
           where app_private.mfa_factors.confirmed_at is null
         returning user_id`,
        [user.userId, secret],
      ),
    { actor: user.userId },
  );
  if (stored.length === 0) throw new MfaError(409, 'mfa_already_enrolled', 'A second factor is already set up: remove it first to set up another.');
  const uri = totp(config, secret, user.email).toString();
  const qr = `data:image/svg+xml;base64,${Buffer.from(await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })).toString('base64')}`;
  return { secret, uri, qr };
}

/**
 * Verifies a TOTP code against the user's factor (confirmed, or the pending enrolment when `enrolling`)
 * and records its step; throws INVALID_CODE for a wrong, stale or replayed code.
 */
async function useTotp(tx: Tx, config: AppConfig, userId: string, code: string, enrolling: boolean): Promise<void> {
  const factor = await tx.query<{ secret: string }>(
    `select secret from app_private.mfa_factors where user_id = $1 and (confirmed_at is not null) = $2`,
    [userId, !enrolling],
  );
  const secret = factor.rows[0]?.secret;
  const step = secret === undefined ? undefined : acceptedStep(config, secret, code);
  if (step === undefined) throw INVALID_CODE;
  const used = await tx.query(
    `update app_private.mfa_factors set last_used_step = $2, confirmed_at = coalesce(confirmed_at, now())
      where user_id = $1 and last_used_step < $2 returning user_id`,
    [userId, step],
  );
  if (used.rows.length === 0) throw INVALID_CODE; // this step (or a later one) was already used
}

/** Enrolment, step two: a code from the new secret confirms it; returns the ten recovery codes (shown once). */
export async function confirmEnrolment(db: AuthDb, config: AppConfig, userId: string, code: string): Promise<string[]> {
  return db.asAuthTx(async (tx) => {
    await useTotp(tx, config, userId, code, true);
    return storeRecoveryCodes(tx, userId);
  }, { actor: userId });
}

/**
 * A second factor as the user typed it: a six-digit TOTP code, or a recovery code (spent). Throws
 * INVALID_CODE otherwise. Runs in the caller's xms_auth transaction.
 */
export async function verifySecondFactor(tx: Tx, config: AppConfig, userId: string, input: string): Promise<'totp' | 'recovery'> {
  const value = input.trim();
  if (/^\d{6}$/.test(value)) {
    await useTotp(tx, config, userId, value, false);
    return 'totp';
  }
  const code = normaliseRecoveryCode(value);
  if (code === undefined) throw INVALID_CODE;
  const spent = await tx.query(
    `update app_private.mfa_recovery_codes set used_at = now()
      where code_hash = $1 and user_id = $2 and used_at is null
        and (exists (select from app_private.mfa_factors f where f.user_id = $2 and f.confirmed_at is not null)
             or exists (select from app_private.passkeys p where p.user_id = $2))
      returning user_id`,
    [recoveryCodeHash(code), userId],
  );
  if (spent.rows.length === 0) throw INVALID_CODE;
  return 'recovery';
}

/** New recovery codes (the old ones die), after a current code. */
export async function regenerateRecoveryCodes(db: AuthDb, config: AppConfig, userId: string, code: string): Promise<string[]> {
  return db.asAuthTx(async (tx) => {
    await verifySecondFactor(tx, config, userId, code);
    return storeRecoveryCodes(tx, userId);
  }, { actor: userId });
}

/**
 * Removes the TOTP factor (the caller verified a current code or the password), then whatever
 * factorRemoved() does.
 */
export async function removeSecondFactor(tx: Tx, config: AppConfig, user: { userId: string; role: string }): Promise<void> {
  await tx.query('delete from app_private.mfa_factors where user_id = $1', [user.userId]);
  await factorRemoved(tx, config, user);
}

/**
 * After a factor was removed: once none is left, the recovery codes die and, when the configuration
 * requires a second factor of this user, their live sessions become enrol-only at once.
 */
export async function factorRemoved(tx: Tx, config: AppConfig, user: { userId: string; role: string }): Promise<void> {
  // after the lock, this statement sees what a parallel removal committed
  await lockFactors(tx, user.userId);
  if (await hasAnyFactor(tx, user.userId)) return;
  await tx.query('delete from app_private.mfa_recovery_codes where user_id = $1', [user.userId]);
  if (mfaRequired(config, user.role)) {
    await tx.query('update app_private.sessions set mfa_enrol_only = true where user_id = $1 and revoked_at is null', [user.userId]);
  }
}

/** The pending second step of a log-in: a new single-use token (for the cookie only). */
export async function createChallenge(db: AuthDb, membership: { userId: string; tenantId: string }): Promise<string> {
  const token = newToken();
  await db.asAuth(
    (tx) =>
      tx.query(
        `insert into app_private.mfa_challenges (token_hash, user_id, tenant_id, expires_at)
         values ($1, $2, $3, now() + make_interval(mins => $4::int))`,
        [tokenHash(token), membership.userId, membership.tenantId, CHALLENGE_MINUTES],
      ),
    { actor: membership.userId },
  );
  return token;
}

/** The live challenge of a token, with the account's e-mail (the per-account rate limit), or undefined. */
export async function findChallenge(db: AuthDb, token: string): Promise<{ userId: string; email: string } | undefined> {
  if (!isWellFormedToken(token)) return undefined;
  const rows = await db.asAuth((tx) =>
    tx.query<{ user_id: string; email: string }>(
      `select ch.user_id, c.email from app_private.mfa_challenges ch
         join app_private.credentials c on c.user_id = ch.user_id
        where ch.token_hash = $1 and ch.used_at is null and ch.expires_at > now()`,
      [tokenHash(token)],
    ),
  );
  return rows[0] ? { userId: rows[0].user_id, email: rows[0].email } : undefined;
}

/** What completes a pending log-in: a TOTP or recovery code as typed, or a passkey's assertion. */
export type SecondFactorInput = string | { passkey: AuthenticationResponseJSON; rp: RelyingParty };

/**
 * Completes a challenge with a second factor: the code (or the passkey's assertion, against the
 * WebAuthn challenge issued for this very log-in) is verified and spent, the challenge spent, in one
 * transaction. Returns the membership to open a session for (still live), or throws INVALID_CODE /
 * INVALID_PASSKEY / an expired-challenge error.
 */
export async function redeemChallenge(
  db: AuthDb,
  config: AppConfig,
  token: string,
  userId: string,
  input: SecondFactorInput,
): Promise<{ userId: string; tenantId: string; role: string }> {
  // a passkey's challenge serves one attempt: taken before the assertion is verified, kept taken if it fails
  const passkeyChallenge = typeof input === 'string' ? null : await takeLoginChallenge(db, token, userId);
  return db.asAuthTx(async (tx) => {
    if (typeof input === 'string') await verifySecondFactor(tx, config, userId, input);
    else await usePasskey(tx, input.rp, userId, input.passkey, passkeyChallenge);
    const spent = await tx.query<{ user_id: string; tenant_id: string; role: string }>(
      `update app_private.mfa_challenges ch set used_at = now()
         from app.memberships m
        where ch.token_hash = $1 and ch.user_id = $2 and ch.used_at is null and ch.expires_at > now()
          and m.user_id = ch.user_id and m.tenant_id = ch.tenant_id and m.deactivated_at is null
        returning ch.user_id, ch.tenant_id, m.role`,
      [tokenHash(token), userId],
    );
    const row = spent.rows[0];
    if (!row) throw new MfaError(401, 'mfa_expired', 'This log-in has expired: enter your e-mail and password again.');
    return { userId: row.user_id, tenantId: row.tenant_id, role: row.role };
  }, { actor: userId });
}
