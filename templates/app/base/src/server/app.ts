import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AppConfig } from '../config.js';
import type { Database } from '../db/client.js';
import { clearSessionCookie, readSessionToken, resumeSession, type Session } from '../auth/sessions.js';
import { adminRoutes } from '../routes/admin/index.js';
import { apiRoutes } from '../routes/api/index.js';
import { authRoutes } from '../routes/public/auth.js';
import { healthRoutes } from '../routes/public/health.js';
import { uiRoutes } from '../routes/public/ui.js';
import { csrfHook } from '../security/csrf.js';
import { API_CACHE_CONTROL, SECURITY_HEADERS } from '../security/headers.js';
import { ActionLimiter, ApiLimiter, clearExpiredLimits, RateLimited } from '../security/rate-limit.js';
import { requestDb, type AuthDb, type Tx } from './db.js';
import { installRouteRegistry, tagScope } from './scopes.js';
import { loggerOptions, newRequestId, type LogDestination } from './logging.js';
import { schemaErrorMessage } from './validation.js';

export interface AppContext {
  config: AppConfig;
  db: AuthDb;
  limits: { login: ActionLimiter; signup: ActionLimiter; reset: ActionLimiter };
}

declare module 'fastify' {
  interface FastifyInstance {
    xms: AppContext;
  }
  interface FastifyRequest {
    /** The caller's live session (protected and admin scopes only). */
    session: Session | null;
    /** Runs fn in this request's one transaction, as the session's role; RLS decides. */
    withDb<R>(fn: (tx: Tx) => Promise<R>): Promise<R>;
  }
}

/**
 * The server (docs/ARCHITECTURE.md): one hook sets the constant security headers, one hook refuses
 * cross-site writes, one hook applies the general API limit; routes live in three scopes:
 *
 *   root ─┬─ public scope     src/routes/public/*  (only routes on src/server/public-routes.ts)
 *         └─ protected scope  src/routes/api/*     (live session required: 401 otherwise)
 *               └─ admin scope  src/routes/admin/* (session role admin: 403 otherwise)
 */
export async function buildApp(config: AppConfig, options: { db: Database; logStream?: LogDestination }): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config, options.logStream),
    genReqId: newRequestId,
    // a hop count is valid at run time (proxy-addr), the types only lack it
    trustProxy: config.trustProxy as boolean | string | string[],
    bodyLimit: 1024 * 1024,
    // Fastify's default silently drops properties a schema does not allow: a client sending
    // tenant_id or a misspelt field must hear about it (400), not see it ignored
    ajv: { customOptions: { removeAdditional: false } },
    schemaErrorFormatter: schemaErrorMessage,
  });
  const db = requestDb(options.db);
  const limits = {
    login: new ActionLimiter(db.authQuery, 'login', config.authLimit),
    signup: new ActionLimiter(db.authQuery, 'signup', config.authLimit),
    reset: new ActionLimiter(db.authQuery, 'reset', config.authLimit),
  };
  app.decorate('xms', { config, db, limits });
  // expired counters are deleted hourly, as xms_auth like every other limiter statement
  const sweeper = setInterval(() => {
    clearExpiredLimits(db.authQuery).catch((error: unknown) => app.log.warn({ err: error }, 'rate-limit sweep failed'));
  }, 3_600_000);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));
  app.decorateRequest('session', null);
  app.decorateRequest('withDb', function withDb<R>(this: FastifyRequest, _fn: (tx: Tx) => Promise<R>): Promise<R> {
    return Promise.reject(new Error('no session: the database is only reachable inside the protected scope'));
  });
  installRouteRegistry(app);

  // Headers (I11): computed once at start-up from helmet, set in one hook.
  const headerEntries = Object.entries(SECURITY_HEADERS);
  app.addHook('onSend', async (request, reply, payload) => {
    for (const [name, value] of headerEntries) reply.header(name, value);
    reply.header('x-request-id', request.id);
    if (request.url.startsWith('/api/')) reply.header('cache-control', API_CACHE_CONTROL);
    return payload;
  });

  // CSRF (I10): one hook for every route.
  app.addHook('onRequest', csrfHook(config.origin));

  // General API limit, per client IP (request.ip honours TRUST_PROXY only).
  const apiLimiter = new ApiLimiter(config.apiLimit.points, config.apiLimit.windowSeconds);
  app.addHook('onRequest', async (request, reply) => {
    try {
      await apiLimiter.consume(request.ip);
    } catch (error) {
      if (error instanceof RateLimited) return tooManyRequests(reply, error);
      throw error;
    }
  });

  const loggedErrors = new WeakSet<FastifyRequest>();
  app.setErrorHandler(async (error: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    if (error instanceof RateLimited) return tooManyRequests(reply, error);
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) {
      // the log gets the error, the client a generic answer it can quote (src/server/logging.ts)
      request.log.error({ err: error, statusCode: 500 }, 'internal error');
      loggedErrors.add(request);
      return reply.code(500).send({ error: 'internal_error', message: 'Internal error.', requestId: request.id });
    }
    return reply.code(status).send({ error: error.validation ? 'invalid_request' : 'bad_request', message: error.message });
  });
  // every other 5xx (a route answering 503, say) is logged at error level too
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode >= 500 && !loggedErrors.has(request)) request.log.error({ statusCode: reply.statusCode }, 'server error');
  });

  // The one public scope.
  await app.register(async (publicScope) => {
    tagScope(publicScope, 'public');
    await publicScope.register(healthRoutes);
    await publicScope.register(authRoutes);
    await publicScope.register(uiRoutes);
  });

  // The protected scope: every route here needs a live session; the admin scope lives inside it.
  await app.register(async (protectedScope) => {
    tagScope(protectedScope, 'protected');
    protectedScope.addHook('onRequest', async (request, reply) => {
      const token = readSessionToken(request, config);
      const session = token ? await resumeSession(db, config, token) : undefined;
      if (!session) {
        if (token) clearSessionCookie(reply, config);
        return reply.code(401).send({ error: 'unauthenticated', message: 'Log in first.' });
      }
      request.session = session;
      request.withDb = (fn) => db.asRequest(session, fn);
    });
    await protectedScope.register(apiRoutes, { prefix: '/api' });

    await protectedScope.register(async (adminScope) => {
      tagScope(adminScope, 'admin');
      adminScope.addHook('onRequest', async (request, reply) => {
        if (request.session?.role !== 'admin') {
          return reply.code(403).send({ error: 'forbidden', message: 'Administrators only.' });
        }
      });
      await adminScope.register(adminRoutes, { prefix: '/api/admin' });
    });
  });

  return app;
}

function tooManyRequests(reply: FastifyReply, error: RateLimited): FastifyReply {
  return reply
    .code(429)
    .header('retry-after', String(error.retryAfterSeconds))
    .send({ error: 'rate_limited', message: 'Too many attempts; try again later.' });
}
