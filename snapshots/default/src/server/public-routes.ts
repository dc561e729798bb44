/**
 * THE list of routes that need no session (invariant I1). Every other route is protected: routes are
 * registered inside the authenticated scope by default (src/server/app.ts), and the server refuses to
 * start when a route outside that scope is not listed here. Adding a line here is the one way to make
 * a route public, and it shows up in review.
 *
 * Format: "METHOD /path" (HEAD follows its GET).
 */

/** Public routes that exist in development only (`npm run dev`); production and tests have none of them. */
export const DEVELOPMENT_PUBLIC_ROUTES: readonly string[] = [
  // the OpenAPI document (src/server/openapi.ts)
  'GET /api/openapi.json',
];

export const PUBLIC_ROUTES: readonly string[] = [
  'GET /health',
  'POST /api/auth/signup',
  'POST /api/auth/login',
  // the second factor of a log-in: needs the pending challenge of the log-in's __Host-mfa cookie
  'POST /api/auth/login/mfa',
  // a passkey for that second step: the WebAuthn challenge of the same pending log-in
  'POST /api/auth/login/passkey/options',
  'POST /api/auth/password-reset',
  // an invitation's link: what it is for, and an existing account joining with its own password
  'POST /api/auth/invitation',
  'POST /api/auth/invitation/join',
  // "forgot password": answers the same for every address; the link goes by e-mail
  'POST /api/auth/password-forgot',
  // e-mail verification: the e-mailed link, and a new link for an address still waiting for it
  'POST /api/auth/verify-email',
  'POST /api/auth/verify-email/resend',
  // the password rules (length, strength score) the sign-up and reset forms show: configuration only
  'GET /api/auth/password-policy',
  ...DEVELOPMENT_PUBLIC_ROUTES,
];
