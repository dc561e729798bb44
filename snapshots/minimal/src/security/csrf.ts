import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/**
 * CSRF (invariant I10): a state-changing request must come from our own origin. Browsers send
 * `Origin` on every cross-origin request and on same-origin POST/PUT/PATCH/DELETE, and modern ones
 * send `Sec-Fetch-Site`. A state-changing request is accepted only when
 *   - Origin is present and equals the app's origin (APP_ORIGIN, or the request's own host), or
 *   - Origin is absent and Sec-Fetch-Site is `same-origin`.
 * Missing both: refused (non-browser clients add an Origin header). One hook, for every route.
 */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isSameOrigin(request: FastifyRequest, configuredOrigin: string | undefined): boolean {
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== '') {
    if (origin === 'null') return false;
    const expected = configuredOrigin ?? `${request.protocol}://${request.host}`;
    return origin === expected;
  }
  return request.headers['sec-fetch-site'] === 'same-origin';
}

/** A synchronous onRequest hook (no promise per request): refuses with 403, or passes on. */
export function csrfHook(configuredOrigin: string | undefined) {
  return function csrfGuard(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (SAFE_METHODS.has(request.method) || isSameOrigin(request, configuredOrigin)) {
      done();
      return;
    }
    reply.code(403).send({ error: 'cross_site_request', message: 'Cross-site requests are refused.' });
  };
}
