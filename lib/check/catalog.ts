/**
 * Every check of `xms check`: its stable id, the invariant of ../../shared/design.md it guards, and
 * what it verifies. The README's "xms check" section documents the same list.
 */
export interface CheckInfo {
  id: string;
  group: 'db' | 'server' | 'repo';
  invariant: string;
  what: string;
}

export const CHECKS: CheckInfo[] = [
  { id: 'DB000-migrations-failed', group: 'db', invariant: '-', what: 'the migrations apply in order to a fresh PostgreSQL (PGlite); otherwise no database check can run' },
  { id: 'DB001-rls-not-forced', group: 'db', invariant: 'I3', what: 'every table in the app schemas has row-level security enabled and forced' },
  { id: 'DB002-table-without-policy', group: 'db', invariant: 'I3', what: 'every table in the app schemas has at least one policy (none: nobody but the owner reaches it)' },
  { id: 'DB003-policy-drift', group: 'db', invariant: 'I6', what: 'the live policies equal what permissions.yml compiles to plus the xms base migrations (names, roles, commands, USING / WITH CHECK, compared as PostgreSQL deparses them)' },
  { id: 'DB004-policy-outside-matrix', group: 'db', invariant: 'I6', what: 'no policy is written by hand in a migration other than the xms ones: policies come from permissions.yml' },
  { id: 'DB005-audit-trigger-missing', group: 'db', invariant: 'I7', what: 'every table (app_private included; not the audit schema) has its three enabled audit triggers calling audit.log_changes(), unless permissions.yml declares it exempt (audit.exempt) with a reason; each exemption is reported as info with its reason' },
  { id: 'DB006-audit-log-writable', group: 'db', invariant: 'I7', what: 'the runtime role and every request role can neither UPDATE, DELETE, TRUNCATE nor INSERT into audit.log, nor own it; its RLS is forced' },
  { id: 'DB007-runtime-role-privileged', group: 'db', invariant: 'I5', what: 'xms_app and the request roles are not superuser, not BYPASSRLS, own nothing, cannot SET ROLE to the owner or a superuser/BYPASSRLS role; xms_app is NOINHERIT' },
  { id: 'DB008-definer-search-path', group: 'db', invariant: 'I8', what: 'every SECURITY DEFINER function pins its search_path' },
  { id: 'DB009-definer-public-execute', group: 'db', invariant: 'I8', what: 'no SECURITY DEFINER function is executable by PUBLIC' },
  { id: 'DB010-definer-exposed-schema', group: 'db', invariant: 'I8', what: 'no SECURITY DEFINER function lives in an exposed schema (public, app, and supabase/config.toml [api] schemas)' },
  { id: 'DB011-definer-callable', group: 'db', invariant: 'I8', what: 'no SECURITY DEFINER function other than the audit trigger audit.log_changes() and the session check app_private.check_session() (it reads only the session of the token presented) is executable by the runtime or a request role, or fired by a trigger (it would skip RLS)' },
  { id: 'DB012-view-not-security-invoker', group: 'db', invariant: 'I8', what: 'every view is security_invoker (materialized views: a warning, they copy rows out of RLS)' },
  { id: 'DB013-policy-column-unindexed', group: 'db', invariant: 'I6', what: 'every column a policy filters on is the leading column of an index' },
  { id: 'DB014-helper-not-wrapped', group: 'db', invariant: 'I6', what: 'policies call identity helpers (app.current_*(), auth.uid(), auth.jwt()) as (select fn()), and current_setting() only inside a (select ...), evaluated once per statement' },
  { id: 'DB015-matrix-invalid', group: 'db', invariant: 'I6', what: 'permissions.yml parses and compiles' },
  { id: 'DB016-truncate-or-trigger-granted', group: 'db', invariant: 'I3', what: 'no runtime or request role holds TRUNCATE (RLS does not apply to it) or TRIGGER on a table of the app schemas' },
  { id: 'DB017-function-drift', group: 'db', invariant: 'I17, I8', what: 'every function the xms migrations (*_xms_*.sql) create equals their definition: signature, body (token by token), volatility, SECURITY DEFINER, settings (search_path), owner and privileges; a later migration that redefines, alters or drops one is named' },
  { id: 'DB018-trigger-drift', group: 'db', invariant: 'I17, I7', what: 'every trigger and event trigger the xms migrations create exists, is enabled as they left it and has their definition (pg_get_triggerdef; event, function and tags)' },
  { id: 'DB019-function-reads-request-setting', group: 'db', invariant: 'I17', what: 'no function of the app schemas reads current_setting() of a custom setting the server does not own (owned: app.session_token; request.jwt.claims and request.jwt.claim.* set by PostgREST), nor a setting named by a non-constant, nor pg_settings' },
  { id: 'DB020-secret-column-copied', group: 'db', invariant: 'I7', what: 'every column permissions.yml declares secret (audit.redact) is redacted by the live audit trigger rules, and every app_private column named like a secret (a word password, secret, token, hash, otp, totp) of an audited table is redacted' },
  { id: 'DB021-audit-rules-drift', group: 'db', invariant: 'I7', what: 'the live audit rules (audit.table_rules: exemptions with their reasons, redacted columns, columns whose update alone is not audited) equal permissions.yml (audit:)' },
  { id: 'DB022-foreign-key-unindexed', group: 'db', invariant: 'I6', what: "every foreign key in the app schemas has an index whose leading columns are the key's columns (Supabase's linter: unindexed_foreign_keys)" },
  { id: 'DB023-auth-key-not-required', group: 'db', invariant: 'I5', what: "every table the auth subsystem's role xms_auth has a right on carries the restrictive policy requiring the server's auth key (app_private.auth_key_held()): the runtime login may switch to xms_auth, so any SQL on its connection could" },
  { id: 'DB024-auth-key-extra', group: 'db', invariant: 'I5', what: "no migration registers an auth key (app_private.auth_keys): the owner registers the server's own (src/db/migrate.ts with XMS_APP_PASSWORD, npm run dev), and a live database holds that one only" },
  { id: 'SRV001-route-outside-scope', group: 'server', invariant: 'I1', what: 'every route is registered inside the public, protected or admin scope (src/server/app.ts), never on the root instance' },
  { id: 'SRV002-public-route-unlisted', group: 'server', invariant: 'I1', what: 'every route of the public scope is on src/server/public-routes.ts, and the public scope holds only public route modules' },
  { id: 'SRV003-admin-route-unguarded', group: 'server', invariant: 'I2', what: 'admin route modules are registered only in the admin scope, whose hook refuses (403) any session whose role is not admin, first and with nothing added to the condition' },
  { id: 'SRV004-protected-scope-unguarded', group: 'server', invariant: 'I1', what: 'the protected scope has an onRequest hook that answers 401 without a live session, and hands the handlers only a session that checkSession() or openSession() returned, which return the session row the database answered, field by field (its role from the row), frozen' },
  { id: 'SRV005-csp-weak', group: 'server', invariant: 'I11', what: "the CSP (src/security/headers.ts) has default-src, script-src without 'unsafe-inline' / 'unsafe-eval' / * / data:, object-src 'none', base-uri; helmet's CSP is not disabled; a root hook sets the headers on every response" },
  { id: 'SRV006-hsts-weak', group: 'server', invariant: 'I11', what: 'HSTS max-age >= 31536000 with includeSubDomains, not disabled' },
  { id: 'SRV007-framing-allowed', group: 'server', invariant: 'I11', what: "frame-ancestors 'none' and X-Frame-Options not disabled; nosniff and Referrer-Policy not disabled" },
  { id: 'SRV008-cookie-insecure', group: 'server', invariant: 'I9', what: 'the session cookie (src/auth/sessions.ts) is __Host-, HttpOnly, Secure, SameSite lax/strict, Path=/' },
  { id: 'SRV009-password-min-too-low', group: 'server', invariant: 'I12', what: 'the password minimum (src/config.ts) and its floor are at least 12, and the floor is enforced' },
  { id: 'SRV010-auth-not-rate-limited', group: 'server', invariant: 'I13', what: 'log-in, sign-up, reset and invitation routes consume their limiter before verifying anything secret, awaited and on every path (not in an if, a callback or a try whose catch goes on); those limiters use the shared PostgreSQL store' },
  { id: 'SRV013-deploy-headers', group: 'server', invariant: 'I11', what: 'the deploy configs (netlify.toml, vercel.json), when the app has any, carry the same strict headers: CSP without unsafe-inline/unsafe-eval and frame-ancestors \'none\', HSTS >= 1 year with includeSubDomains, nosniff, Referrer-Policy' },
  { id: 'SRV014-csrf-unguarded', group: 'server', invariant: 'I10', what: 'a hook on the root instance refuses cross-site state-changing requests (csrfHook(config.origin) as it is, not wrapped), so every route is covered; src/security/csrf.ts lets only GET, HEAD and OPTIONS by without a look at the origin, lets a request on only under that test or isSameOrigin(), and isSameOrigin answers only false, the request\'s Origin === the configured origin (the request\'s own without one) or Sec-Fetch-Site === \'same-origin\'' },
  { id: 'SRV015-session-lifetime', group: 'server', invariant: 'I9', what: 'SESSION_IDLE_MINUTES / SESSION_ABSOLUTE_HOURS (src/config.ts) are read through int(), which throws outside its bounds, with defaults and maxima of at most 24 h / 30 days; the session queries (src/auth/sessions.ts) bind their expiry intervals to both settings, and app_private.enter_session (the request path) slides by the idle_minutes that src/db/request.ts takes from the config; no interval literal' },
  { id: 'SRV016-trust-proxy-all', group: 'server', invariant: 'I13', what: "no trustProxy can trust every hop: the Fastify option is config.trustProxy, false, a hop count or addresses; TRUST_PROXY unset is no trust, '*' / 0.0.0.0/0 / ::/0 are refused, production refuses true" },
  { id: 'SRV017-password-hash-weak', group: 'server', invariant: 'I12', what: 'ARGON2_OPTIONS (src/security/passwords.ts) is argon2id with memoryCost >= 19456, timeCost >= 2, parallelism >= 1, and hashPassword calls argon2.hash(password, ARGON2_OPTIONS), no other hash; every function writing a password_hash takes it from hashPassword' },
  { id: 'SRV018-public-route-in-private-namespace', group: 'server', invariant: 'I1', what: "no public route lies under the admin scope's prefix (/api/admin) or on / under a protected or admin route's path, even when listed on src/server/public-routes.ts" },
  { id: 'SRV019-mfa-step-weakened', group: 'server', invariant: 'I9, I13', what: "the second factor of a log-in holds: POST /api/auth/login/mfa is public and consumes its per-IP and per-account limits before the code is checked, POST /api/auth/login hands over to afterPassword() and opens no session itself, and the protected scope refuses an enrol-only session outside the enrolment routes (403); a passkey (src/auth/passkeys.ts) counts only once @simplewebauthn/server verified it against the stored challenge, origin and RP ID, its signature counter must grow, and redeemChallenge() verifies it before spending the pending log-in" },
  { id: 'SRV020-write-body-not-strict', group: 'server', invariant: 'I4, I17', what: 'every POST/PUT/PATCH body schema refuses fields it does not declare (Strict(), Type.Object with additionalProperties: false, or a JSON schema saying so), Strict() in src/server/schemas.ts ends with additionalProperties: false, and the server keeps Ajv from dropping such fields (removeAdditional: false)' },
  { id: 'SRV011-privileged-db-access', group: 'server', invariant: 'I2', what: 'no SET ROLE / RESET ROLE / SET SESSION AUTHORIZATION / set_config / raw pg Pool, Client or PGlite outside src/db/' },
  { id: 'SRV012-token-in-browser-storage', group: 'server', invariant: 'I9', what: 'no source writes a token or session to localStorage / sessionStorage' },
  { id: 'BLD001-secret-in-bundle', group: 'repo', invariant: 'I15', what: 'the built browser bundle (dist/public, web/dist, dist/client, ...) holds no postgres:// URL, DATABASE_URL value, service-role key or secret from .env' },
  { id: 'BLD002-no-bundle', group: 'repo', invariant: 'I15', what: 'info: no browser bundle was found to scan' },
  { id: 'REPO001-env-tracked', group: 'repo', invariant: 'I15', what: '.env (and .env.* other than .env.example) is not tracked by git' },
  { id: 'REPO002-env-not-ignored', group: 'repo', invariant: 'I15', what: 'warning: .gitignore does not ignore .env' },
];

export const CHECK_IDS = CHECKS.map((c) => c.id);
