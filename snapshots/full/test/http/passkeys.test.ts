/**
 * Passkeys as the second factor, over real HTTP (src/auth/passkeys.ts, migration *_xms_passkeys.sql),
 * with a software authenticator (test/helpers/webauthn.ts) that the server verifies as it would a
 * real one: enrolment from an enrol-only session; a log-in completed with the passkey; a wrong
 * challenge, a replayed assertion or registration, another user's credential, a counter that goes
 * back and a foreign origin refused; removal needs the password or a current code; audited with the
 * challenges redacted. The servers and the database run as the runtime roles.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { signUpAndLogin, startServer, testConfig, testDatabase, twoStepClient, type Client, type Server, type TwoStepClient } from '../helpers/http.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';

let server: Server;
test.before(async () => {
  // the default: admins must have a second factor (a sign-up is the admin of its tenant)
  server = await startServer(testConfig({ mfaRequiredFor: 'admin', authLimit: { perAccount: 50, perIp: 1000, windowSeconds: 900 } }));
});
test.after(async () => {
  await server.close();
  await (await testDatabase()).close();
});

async function json<T>(response: Response, status = 200): Promise<T> {
  const text = await response.text();
  assert.is(response.status, status, text);
  return JSON.parse(text) as T;
}

async function registerOptions(c: Client): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return json(await c.request('POST', '/api/mfa/passkeys/register/options'));
}

/** An admin (enrol-only until a factor exists) with a registered passkey. */
async function enrolled(): Promise<{ email: string; password: string; userId: string; key: SoftAuthenticator; recoveryCodes: string[]; client: Client }> {
  const admin = await signUpAndLogin(server);
  assert.is((await admin.client.request('GET', '/api/records')).status, 403, 'enrol-only first');
  const key = new SoftAuthenticator(server.origin);
  const options = await registerOptions(admin.client);
  assert.is(options.rp.id, '127.0.0.1', 'the RP ID is the host of the origin');
  assert.is(options.attestation, 'none');
  const { recoveryCodes } = await json<{ recoveryCodes: string[] }>(
    await admin.client.request('POST', '/api/mfa/passkeys/register', { name: 'Laptop', response: key.register(options) }),
  );
  assert.is(recoveryCodes.length, 10, 'the first factor comes with recovery codes');
  assert.is((await admin.client.request('GET', '/api/records')).status, 200, 'the passkey satisfies MFA_REQUIRED_FOR: a full session now');
  return { email: admin.email, password: admin.password, userId: admin.userId, key, recoveryCodes, client: admin.client };
}

async function passwordStep(email: string, password: string, c: TwoStepClient = twoStepClient(server)): Promise<TwoStepClient> {
  c.cookie = undefined;
  const answer = await json<{ status: string; passkey: boolean }>(await c.request('POST', '/api/auth/login', { email, password }));
  assert.equal(answer.status, 'mfa_required');
  assert.is(answer.passkey, true, 'the UI is told to offer the passkey');
  assert.is(c.cookie, undefined);
  return c;
}

async function loginOptions(c: TwoStepClient): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return json(await c.request('POST', '/api/auth/login/passkey/options'));
}

const passkeyStep = (c: TwoStepClient, passkey: unknown) => c.request('POST', '/api/auth/login/mfa', { passkey });

test('enrol from an enrol-only session, then log in with the passkey; the assertion is single use', async () => {
  const u = await enrolled();
  const c = await passwordStep(u.email, u.password);
  const options = await loginOptions(c);
  assert.equal(options.allowCredentials?.map((a) => a.id), [u.key.id], 'the user\'s own credential only');
  const assertion = u.key.assert(options);
  const ok = await passkeyStep(c, assertion);
  assert.is(ok.status, 200, await ok.clone().text());
  assert.ok(c.cookie, 'a session');
  assert.is(c.mfaCookie, undefined, 'the pending cookie is cleared');
  assert.is((await c.request('GET', '/api/records')).status, 200);

  const status = await json<{ enrolled: boolean; totp: boolean; passkeys: { name: string; lastUsedAt: string | null }[] }>(await c.request('GET', '/api/mfa'));
  assert.is(status.enrolled, true);
  assert.is(status.totp, false);
  assert.equal(status.passkeys.map((p) => p.name), ['Laptop']);
  assert.ok(status.passkeys[0]!.lastUsedAt, 'last use recorded');

  // the same assertion again: on a new pending log-in its challenge is not the one issued
  const again = await passwordStep(u.email, u.password);
  await loginOptions(again);
  const replay = await passkeyStep(again, assertion);
  assert.is(replay.status, 401);
  assert.is((await replay.json() as { error: string }).error, 'invalid_passkey');
  assert.is(again.cookie, undefined, 'no session');
});

test('a wrong challenge, a foreign origin or a missing options step are refused, and a failed attempt spends the challenge', async () => {
  const u = await enrolled();
  const c = await passwordStep(u.email, u.password);
  assert.is((await passkeyStep(c, u.key.assert({ challenge: randomBytes(32).toString('base64url'), rpId: '127.0.0.1' }))).status, 401, 'no challenge was issued');

  const options = await loginOptions(c);
  assert.is((await passkeyStep(c, u.key.assert(options, { challenge: randomBytes(32).toString('base64url') }))).status, 401, 'a challenge never issued');
  assert.is((await passkeyStep(c, u.key.assert(options))).status, 401, 'the failed attempt spent the challenge');

  const fresh = await loginOptions(c);
  assert.is((await passkeyStep(c, u.key.assert(fresh, { origin: 'https://evil.example' }))).status, 401, 'another origin (phishing)');
  const other = await loginOptions(c);
  assert.is((await passkeyStep(c, u.key.assert({ ...other, rpId: 'evil.example' }))).status, 401, 'another RP ID');
  // a challenge issued for another pending log-in of the same user does not serve this one
  const second = await passwordStep(u.email, u.password);
  const foreign = await loginOptions(second);
  await loginOptions(c);
  assert.is((await passkeyStep(c, u.key.assert(foreign))).status, 401, 'bound to its own log-in');
  assert.is((await passkeyStep(second, u.key.assert(foreign))).status, 200, 'and still good for the log-in it was issued for');
  assert.is((await passkeyStep(c, u.key.assert(await loginOptions(c)))).status, 200, 'the first log-in completes with its own');
});

test("another user's credential does not complete a log-in, even with a valid signature", async () => {
  const alice = await enrolled();
  const bob = await enrolled();
  const c = await passwordStep(alice.email, alice.password);
  const options = await loginOptions(c);
  const refused = await passkeyStep(c, bob.key.assert(options));
  assert.is(refused.status, 401);
  assert.is(c.cookie, undefined);
  // nor Bob's key claiming Alice's credential id (the signature does not match her public key)
  const again = await loginOptions(c);
  assert.is((await passkeyStep(c, bob.key.assert(again, { credentialId: alice.key.credentialId }))).status, 401);
});

test('a counter that goes back (a cloned authenticator) is refused', async () => {
  const u = await enrolled();
  const c = await passwordStep(u.email, u.password);
  u.key.counter = 10;
  assert.is((await passkeyStep(c, u.key.assert(await loginOptions(c)))).status, 200, 'counter 11');
  const d = await passwordStep(u.email, u.password);
  assert.is((await passkeyStep(d, u.key.assert(await loginOptions(d), { counter: 5 }))).status, 401, 'counter 5 after 11');
  assert.is((await passkeyStep(d, u.key.assert(await loginOptions(d), { counter: 11 }))).status, 401, 'the same counter again');
  assert.is((await passkeyStep(d, u.key.assert(await loginOptions(d)))).status, 200, 'counter 12');
  const owner = (await testDatabase()).owner;
  const stored = await owner.query<{ counter: string }>('select counter from app_private.passkeys where user_id = $1', [u.userId]);
  assert.is(Number(stored.rows[0]!.counter), 12);
});

test('registration: the challenge is single use and bound to the user; the origin is checked; the same key once', async () => {
  const admin = await signUpAndLogin(server);
  const key = new SoftAuthenticator(server.origin);
  const options = await registerOptions(admin.client);
  const register = (c: Client, response: unknown, name = 'Key') => c.request('POST', '/api/mfa/passkeys/register', { name, response });

  assert.is((await register(admin.client, key.register(options, { origin: 'https://evil.example' }))).status, 401, 'another origin');
  assert.is((await register(admin.client, key.register(options))).status, 401, 'the failed attempt spent the challenge');
  // another user's pending challenge does not register a key here
  const other = await signUpAndLogin(server);
  const otherOptions = await registerOptions(other.client);
  await registerOptions(admin.client);
  assert.is((await register(admin.client, key.register(otherOptions))).status, 401, "another user's challenge");
  assert.is((await register(admin.client, { id: 'x' })).status, 400, 'malformed');
  assert.is((await register(admin.client, key.register(await registerOptions(admin.client)), 'bad\u0000name')).status, 400, 'a control character in the name');

  const response = key.register(await registerOptions(admin.client));
  assert.is((await register(admin.client, response)).status, 200);
  assert.is((await register(admin.client, response)).status, 401, 'a replayed registration');
  const dup = await register(admin.client, key.register(await registerOptions(admin.client)));
  assert.is(dup.status, 409, 'the same credential twice');
  const again = await json<PublicKeyCredentialCreationOptionsJSON>(await admin.client.request('POST', '/api/mfa/passkeys/register/options'));
  assert.equal(again.excludeCredentials?.map((e) => e.id), [key.id], 'the browser is told not to register it again');
});

test('removal needs the password or a current code, is audited, and an admin without a factor is back to enrol-only', async () => {
  const u = await enrolled();
  const c = await passwordStep(u.email, u.password);
  assert.is((await passkeyStep(c, u.key.assert(await loginOptions(c)))).status, 200);
  const { passkeys } = await json<{ passkeys: { id: string }[] }>(await c.request('GET', '/api/mfa'));
  const id = passkeys[0]!.id;

  // another user cannot remove it, even with their own password
  const mallory = await enrolled();
  const m = await passwordStep(mallory.email, mallory.password);
  assert.is((await passkeyStep(m, mallory.key.assert(await loginOptions(m)))).status, 200);
  assert.is((await m.request('POST', `/api/mfa/passkeys/${id}/remove`, { password: mallory.password })).status, 404);

  assert.is((await c.request('POST', `/api/mfa/passkeys/${id}/remove`, { password: 'not-the-password-at-all' })).status, 401);
  assert.is((await c.request('POST', `/api/mfa/passkeys/${id}/remove`, { code: '123456' })).status, 401);
  assert.is((await c.request('POST', `/api/mfa/passkeys/${id}/remove`, {})).status, 400, 'a proof is needed');
  assert.is((await c.request('GET', '/api/records')).status, 200);
  // a recovery code is a current factor too
  const removed = await json<{ enrolled: boolean; passkeys: unknown[]; recoveryCodesLeft: number }>(
    await c.request('POST', `/api/mfa/passkeys/${id}/remove`, { code: u.recoveryCodes[0]! }),
  );
  assert.equal([removed.enrolled, removed.passkeys, removed.recoveryCodesLeft], [false, [], 0], 'no factor left: the recovery codes died with it');
  assert.is((await c.request('GET', '/api/records')).status, 403, 'required for admins: enrol-only again');

  const owner = (await testDatabase()).owner;
  const audited = await owner.query<{ action: string; actor_id: string }>(
    `select action, actor_id from audit.log where table_name = 'app_private.passkeys' and row_key->>'id' = $1 order by id`,
    [id],
  );
  assert.equal(audited.rows.map((r) => r.action), ['INSERT', 'UPDATE', 'DELETE'], 'registered, used, removed');
  assert.ok(audited.rows.every((r) => r.actor_id === u.userId), 'each by the user');
  const secrets = await owner.query<{ n: number; redacted: number }>(
    `select count(*)::int as n,
            count(*) filter (where coalesce(new_row, old_row)->>'challenge_hash' = '[redacted]'
                                or coalesce(new_row, old_row)->>'passkey_challenge_hash' in ('[redacted]'))::int as redacted
       from audit.log where table_name in ('app_private.passkey_registrations')
          or (table_name = 'app_private.mfa_challenges' and coalesce(new_row, old_row)->>'passkey_challenge_hash' is not null)`,
  );
  assert.ok(secrets.rows[0]!.n > 0);
  assert.is(secrets.rows[0]!.redacted, secrets.rows[0]!.n, 'every challenge hash is redacted');
});

test('two passkeys removed in parallel: the admin is left enrol-only, the recovery codes dead', async () => {
  const u = await enrolled();
  const second = new SoftAuthenticator(server.origin);
  const added = await u.client.request('POST', '/api/mfa/passkeys/register', { name: 'Phone', response: second.register(await registerOptions(u.client)) });
  assert.equal(await json(added), {}, 'no new recovery codes for a second factor');
  const { passkeys } = await json<{ passkeys: { id: string }[] }>(await u.client.request('GET', '/api/mfa'));
  assert.is(passkeys.length, 2);
  const removals = await Promise.all(passkeys.map((p) => u.client.request('POST', `/api/mfa/passkeys/${p.id}/remove`, { password: u.password })));
  assert.equal(removals.map((r) => r.status), [200, 200]);
  const owner = (await testDatabase()).owner;
  const left = await owner.query<{ codes: number; enrolOnly: boolean[] }>(
    `select (select count(*)::int from app_private.mfa_recovery_codes where user_id = $1) as codes,
            (select array_agg(mfa_enrol_only) from app_private.sessions where user_id = $1 and revoked_at is null) as "enrolOnly"`,
    [u.userId],
  );
  assert.is(left.rows[0]!.codes, 0);
  assert.ok(left.rows[0]!.enrolOnly.every(Boolean), 'every live session is enrol-only');
});

test('the passkey routes of the log-in need its pending challenge', async () => {
  const bare = twoStepClient(server);
  assert.is((await bare.request('POST', '/api/auth/login/passkey/options')).status, 400, 'no pending log-in');
  const u = await enrolled();
  const c = await passwordStep(u.email, u.password);
  assert.is((await c.request('POST', '/api/auth/login/mfa', { passkey: { id: 'x' } })).status, 400, 'malformed');
  assert.is((await c.request('POST', '/api/auth/login/mfa', { code: '123456', passkey: u.key.assert(await loginOptions(c)) })).status, 400, 'one factor, not two');
});

test.run();
