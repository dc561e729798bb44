import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { AppConfig } from '../config.js';
import { loadOnce } from '../load-once.js';
import { tokenHash } from '../security/tokens.js';
import type { AuthDb, Tx } from '../server/db.js';
import { CHALLENGE_MINUTES, INVALID_PASSKEY, MfaError, storeRecoveryCodes } from './mfa.js';

/**
 * Passkeys (WebAuthn, migration 20240101000385_xms_passkeys.sql) as a second factor besides TOTP,
 * verified by @simplewebauthn/server. Everything runs as the auth subsystem (xms_auth), with the user
 * as the audit actor.
 *
 * - The relying party is APP_ORIGIN (required in production: src/config.ts); without it (development,
 *   tests) the request's own origin, as the CSRF check does. The RP ID is its host name.
 * - Every challenge is single use and stored as SHA-256: a registration's in passkey_registrations
 *   (bound to the user), a log-in's on the pending log-in itself (mfa_challenges: bound to that
 *   log-in). Either is taken (deleted or cleared) in its own transaction before the response is
 *   verified, so a failed attempt spends it too and a replayed response finds no challenge.
 * - The signature counter must grow (when the authenticator keeps one): the update that records it
 *   is conditional, so a cloned authenticator, or the same assertion sent twice in parallel, is refused.
 * - Attestation 'none': any authenticator is accepted (a second factor, not a device policy); user
 *   verification is preferred, not required (the password was the first factor).
 */
export const MAX_PASSKEYS = 10;

/**
 * @simplewebauthn/server, imported once: its dependencies (CBOR, ASN.1, every COSE algorithm) take
 * about half a second to load. Production loads it at start-up (src/server/app.ts), never in a
 * request; development on the first passkey request.
 */
export const loadWebAuthn = loadOnce(() => import('@simplewebauthn/server'));

export interface RelyingParty {
  id: string;
  origin: string;
  name: string;
}

export function relyingParty(config: AppConfig, request: FastifyRequest): RelyingParty {
  const origin = config.origin ?? `${request.protocol}://${request.host}`;
  return { id: new URL(origin).hostname, origin, name: config.mail.appName };
}

export interface PasskeyInfo {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export async function listPasskeys(db: AuthDb, userId: string): Promise<PasskeyInfo[]> {
  const rows = await db.asAuth((tx) =>
    tx.query<{ id: string; name: string; created_at: Date; last_used_at: Date | null }>(
      'select id, name, created_at, last_used_at from app_private.passkeys where user_id = $1 order by created_at, id',
      [userId],
    ),
  );
  return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at.toISOString(), lastUsedAt: r.last_used_at?.toISOString() ?? null }));
}

/** A challenge as the browser echoes it, compared with a stored hash (no secret compared byte by byte). */
function matches(stored: Buffer | null | undefined): (challenge: string) => boolean {
  return (challenge) => stored != null && timingSafeEqual(tokenHash(challenge), stored);
}

const asTransports = (values: string[]) => values as AuthenticatorTransport[];

/** Registration, step one: options for navigator.credentials.create(); a pending challenge replaces any other. */
export async function startPasskeyRegistration(
  db: AuthDb,
  rp: RelyingParty,
  user: { userId: string; email: string },
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const existing = await db.asAuth((tx) =>
    tx.query<{ credential_id: string; transports: string[] }>('select credential_id, transports from app_private.passkeys where user_id = $1', [user.userId]),
  );
  if (existing.length >= MAX_PASSKEYS) throw new MfaError(409, 'too_many_passkeys', `At most ${MAX_PASSKEYS} passkeys: remove one first.`);
  const { generateRegistrationOptions } = await loadWebAuthn();
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.email,
    // the user handle stored on the authenticator: the account's id, no personal data
    userID: Buffer.from(user.userId.replace(/-/g, ''), 'hex'),
    attestationType: 'none',
    // the same authenticator is not registered twice
    excludeCredentials: existing.map((c) => ({ id: c.credential_id, transports: asTransports(c.transports) })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    timeout: CHALLENGE_MINUTES * 60_000,
  });
  await db.asAuth(
    (tx) =>
      tx.query(
        `insert into app_private.passkey_registrations (user_id, challenge_hash, expires_at)
         values ($1, $2, now() + make_interval(mins => $3::int))
         on conflict (user_id) do update set challenge_hash = excluded.challenge_hash, created_at = now(), expires_at = excluded.expires_at`,
        [user.userId, tokenHash(options.challenge), CHALLENGE_MINUTES],
      ),
    { actor: user.userId },
  );
  return options;
}

/**
 * Registration, step two: the authenticator's response to the pending challenge (spent whatever the
 * outcome) is verified and the credential stored under the name the user chose. Returns ten new
 * recovery codes when this is the user's first second factor (shown once), else none.
 */
export async function finishPasskeyRegistration(
  db: AuthDb,
  rp: RelyingParty,
  userId: string,
  name: string,
  response: RegistrationResponseJSON,
): Promise<{ recoveryCodes: string[] | undefined }> {
  const taken = await db.asAuth(
    (tx) =>
      tx.query<{ challenge_hash: Buffer }>(
        'delete from app_private.passkey_registrations where user_id = $1 and expires_at > now() returning challenge_hash',
        [userId],
      ),
    { actor: userId },
  );
  const { verifyRegistrationResponse } = await loadWebAuthn(); // outside the try: a failed import is not a bad passkey
  let verification;
  try {
    verification = await verifyRegistrationResponse({
      response,
      expectedChallenge: matches(taken[0]?.challenge_hash),
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: false,
    });
  } catch {
    throw INVALID_PASSKEY;
  }
  if (!verification.verified) throw INVALID_PASSKEY;
  const { credential } = verification.registrationInfo;
  return db.asAuthTx(async (tx) => {
    await lockFactors(tx, userId);
    const first = !(await hasAnyFactor(tx, userId));
    const stored = await tx.query(
      `insert into app_private.passkeys (user_id, credential_id, public_key, counter, transports, name)
       values ($1, $2, $3, $4, $5, $6) on conflict (credential_id) do nothing returning id`,
      [userId, credential.id, Buffer.from(credential.publicKey), credential.counter, credential.transports ?? [], name],
    );
    if (stored.rows.length === 0) throw new MfaError(409, 'passkey_exists', 'This passkey is already registered.');
    return { recoveryCodes: first ? await storeRecoveryCodes(tx, userId) : undefined };
  }, { actor: userId });
}

/**
 * Serialises the changes of one user's set of factors until the transaction ends: two removals in
 * parallel must not each see the other's factor still there (and leave a user who must have one with
 * none and full sessions), nor two first registrations each issue recovery codes.
 */
export async function lockFactors(tx: Tx, userId: string): Promise<void> {
  await tx.query(`select pg_advisory_xact_lock(hashtextextended('xms.factors:' || $1::text, 0))`, [userId]);
}

/** Whether the user has a second factor: a confirmed TOTP factor or a passkey. */
export async function hasAnyFactor(tx: Tx, userId: string): Promise<boolean> {
  const rows = await tx.query(
    `select 1 where exists (select from app_private.mfa_factors where user_id = $1 and confirmed_at is not null)
                 or exists (select from app_private.passkeys where user_id = $1)`,
    [userId],
  );
  return rows.rows.length > 0;
}

/**
 * Options for navigator.credentials.get() in the second step of a pending log-in (the token of its
 * __Host-mfa cookie): the user's own credentials only; the challenge replaces any earlier one of
 * this log-in. Undefined when the log-in is not live or the user has no passkey.
 */
export async function startPasskeyLogin(
  db: AuthDb,
  rp: RelyingParty,
  token: string,
  userId: string,
): Promise<PublicKeyCredentialRequestOptionsJSON | undefined> {
  const credentials = await db.asAuth((tx) =>
    tx.query<{ credential_id: string; transports: string[] }>('select credential_id, transports from app_private.passkeys where user_id = $1', [userId]),
  );
  if (credentials.length === 0) return undefined;
  const { generateAuthenticationOptions } = await loadWebAuthn();
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    allowCredentials: credentials.map((c) => ({ id: c.credential_id, transports: asTransports(c.transports) })),
    userVerification: 'preferred',
    timeout: CHALLENGE_MINUTES * 60_000,
  });
  const stored = await db.asAuth(
    (tx) =>
      tx.query(
        `update app_private.mfa_challenges set passkey_challenge_hash = $3
          where token_hash = $1 and user_id = $2 and used_at is null and expires_at > now() returning user_id`,
        [tokenHash(token), userId, tokenHash(options.challenge)],
      ),
    { actor: userId },
  );
  return stored.length === 0 ? undefined : options;
}

/**
 * Takes (clears) the passkey challenge of a pending log-in in its own transaction, so that whatever
 * follows, it served one attempt. Returns its hash, or null.
 */
export async function takeLoginChallenge(db: AuthDb, token: string, userId: string): Promise<Buffer | null> {
  const rows = await db.asAuth(
    (tx) =>
      tx.query<{ hash: Buffer | null }>(
        `with pending as (
           select token_hash, passkey_challenge_hash from app_private.mfa_challenges
            where token_hash = $1 and user_id = $2 and used_at is null and expires_at > now() and passkey_challenge_hash is not null
            for update)
         update app_private.mfa_challenges ch set passkey_challenge_hash = null
           from pending where ch.token_hash = pending.token_hash
         returning pending.passkey_challenge_hash as hash`,
        [tokenHash(token), userId],
      ),
    { actor: userId },
  );
  return rows[0]?.hash ?? null;
}

/**
 * Verifies an assertion against the user's own credential and the challenge taken for it, and
 * records the new counter (conditional: it must grow, unless the authenticator keeps none). Throws
 * INVALID_PASSKEY otherwise. Runs in the caller's xms_auth transaction.
 */
export async function usePasskey(
  tx: Tx,
  rp: RelyingParty,
  userId: string,
  response: AuthenticationResponseJSON,
  challengeHash: Buffer | null,
): Promise<void> {
  if (challengeHash === null) throw INVALID_PASSKEY;
  const found = await tx.query<{ id: string; credential_id: string; public_key: Buffer; counter: string; transports: string[] }>(
    'select id, credential_id, public_key, counter, transports from app_private.passkeys where credential_id = $1 and user_id = $2',
    [String(response.id), userId],
  );
  const row = found.rows[0];
  if (!row) throw INVALID_PASSKEY; // unknown, or another user's credential
  const { verifyAuthenticationResponse } = await loadWebAuthn(); // outside the try: a failed import is not a bad passkey
  let verification;
  try {
    verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: matches(challengeHash),
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: { id: row.credential_id, publicKey: new Uint8Array(row.public_key), counter: Number(row.counter), transports: asTransports(row.transports) },
      requireUserVerification: false,
    });
  } catch {
    throw INVALID_PASSKEY;
  }
  if (!verification.verified) throw INVALID_PASSKEY;
  const counter = verification.authenticationInfo.newCounter;
  const used = await tx.query(
    `update app_private.passkeys set counter = $2, last_used_at = now()
      where id = $1 and (counter < $2 or (counter = 0 and $2 = 0)) returning id`,
    [row.id, counter],
  );
  if (used.rows.length === 0) throw INVALID_PASSKEY; // the counter went back: a cloned authenticator
}

/** Removes one of the user's passkeys (the caller verified a current code or the password); false if none. */
export async function deletePasskey(tx: Tx, userId: string, passkeyId: string): Promise<boolean> {
  const deleted = await tx.query('delete from app_private.passkeys where id = $1 and user_id = $2 returning id', [passkeyId, userId]);
  return deleted.rows.length > 0;
}
