import { finished } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { AppConfig } from '../config.js';
import type { Database } from '../db/client.js';
import { checkSession, clearSessionCookie, openSession, readSessionToken, type Session } from '../auth/sessions.js';
import type { RequestTransaction } from '../db/request.js';
import { adminRoutes } from '../routes/admin/index.js';
import { apiRoutes } from '../routes/api/index.js';
import { authRoutes } from '../routes/public/auth.js';
import { loginMfaRoutes } from '../routes/public/login-mfa.js';
import { ENROL_ONLY_ROUTES } from '../auth/mfa.js';
import { healthRoutes } from '../routes/public/health.js';
import { openApiRoutes } from '../routes/public/openapi.js';
import { uiRoutes, type UiOptions } from '../routes/public/ui.js';
import { Mailer } from '../mail/mailer.js';
import { csrfHook } from '../security/csrf.js';
import { API_CACHE_CONTROL, SECURITY_HEADERS } from '../security/headers.js';
import { loadCommonPasswords, loadStrengthEstimator } from '../security/passwords.js';
import { loadWebAuthn } from '../auth/passkeys.js';
import { ActionLimiter, ApiLimiter, clearExpiredLimits, RateLimited } from '../security/rate-limit.js';
import { commitsOnError, currentRequest, requestDb, type AuthDb, type Tx } from './db.js';
import { installRouteRegistry, tagScope } from './scopes.js';
import { AccessLog, loggerOptions, newRequestId, requestLogger, type LogDestination } from './logging.js';
import { registerOpenApi } from './openapi.js';
import { schemaErrorMessage } from './validation.js';

export interface AppContext {
  config: AppConfig;
  db: AuthDb;
  limits: { login: ActionLimiter; signup: ActionLimiter; reset: ActionLimiter; forgot: ActionLimiter; verify: ActionLimiter; emailChange: ActionLimiter; mfa: ActionLimiter };
  /** Outgoing e-mail and the background tasks that send it (src/mail/mailer.ts). */
  mail: Mailer;
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
    /** The request's one transaction (protected and admin scopes), ended by the server. */
    xmsTransaction: RequestTransaction | null;
  }
  interface FastifyContextConfig {
    /**
     * The route reads nothing but the caller's session (request.session), as GET /api/me does. Its
     * session check commits at once, in one round trip with its BEGIN; the handler gets no
     * transaction, and request.withDb() is refused. The session is required as for any protected route.
     */
    sessionOnly?: boolean;
  }
}

/**
 * request.withDb(fn): fn in the request's one transaction (the protected scope's), else refused with
 * the reason: no session, or a route declared sessionOnly, which has no transaction.
 */
export function requestWithDb<R>(this: FastifyRequest, fn: (tx: Tx) => Promise<R>): Promise<R> {
  const tx = this.xmsTransaction;
  if (tx) return tx.run(fn);
  return Promise.reject(new Error(this.routeOptions.config.sessionOnly
    ? `${this.method} ${this.routeOptions.url} is declared sessionOnly: it has no request transaction (remove config.sessionOnly to use request.withDb)`
    : 'no session: the database is only reachable inside the protected scope'));
}

/**
 * The server (docs/ARCHITECTURE.md): one hook sets the constant security headers, one hook refuses
 * cross-site writes, one hook applies the general API limit; routes live in three scopes:
 *
 *   root ─┬─ public scope     src/routes/public/*  (only routes on src/server/public-routes.ts)
 *         └─ protected scope  src/routes/api/*     (live session required: 401 otherwise)
 *               └─ admin scope  src/routes/admin/* (session role admin: 403 otherwise)
 */
export async function buildApp(
  config: AppConfig,
  options: {
    db: Database;
    logStream?: LogDestination;
    /** development: src/server/dev-server.ts */
    ui?: UiOptions;
    /** serve the OpenAPI document (src/server/openapi.ts); by default in development only */
    openapi?: boolean;
    /** development: route schemas compiled on first use (src/server/dev-schemas.ts) */
    schemaCompilers?: NonNullable<FastifyServerOptions['schemaController']>['compilersFactory'];
  },
): Promise<FastifyInstance> {
  const accessLog = new AccessLog();
  const app = Fastify({
    logger: loggerOptions(config, options.logStream),
    // one access line per request, when the response is done, and one error line per 5xx
    // (src/server/logging.ts)
    logController: accessLog,
    childLoggerFactory: requestLogger,
    genReqId: newRequestId,
    // a hop count is valid at run time (proxy-addr), the types only lack it
    trustProxy: config.trustProxy as boolean | string | string[],
    bodyLimit: 1024 * 1024,
    // Fastify's default silently drops properties a schema does not allow: a client sending
    // tenant_id or a misspelt field must hear about it (400), not see it ignored
    ajv: { customOptions: { removeAdditional: false } },
    schemaErrorFormatter: schemaErrorMessage,
    ...(options.schemaCompilers ? { schemaController: { compilersFactory: options.schemaCompilers } } : {}),
  });
  const db = requestDb(options.db);
  // the password list, the strength estimator's dictionaries and the WebAuthn library load once,
  // now, not in a request (development: the last two when first used, so that it starts sooner)
  loadCommonPasswords();
  if (config.env !== 'development') await Promise.all([loadStrengthEstimator(), loadWebAuthn()]);
  const limits = {
    login: new ActionLimiter(db.authQuery, 'login', config.authLimit),
    signup: new ActionLimiter(db.authQuery, 'signup', config.authLimit),
    reset: new ActionLimiter(db.authQuery, 'reset', config.authLimit),
    forgot: new ActionLimiter(db.authQuery, 'forgot', config.authLimit),
    // e-mail verification: following a link, asking for a new one; changing the address
    verify: new ActionLimiter(db.authQuery, 'verify', config.authLimit),
    emailChange: new ActionLimiter(db.authQuery, 'email-change', config.authLimit),
    mfa: new ActionLimiter(db.authQuery, 'mfa', config.authLimit),
  };
  const mail = new Mailer(config, {
    // links in e-mails: APP_ORIGIN (required in production), else this server's own address
    origin: () => config.origin ?? listeningOrigin(app),
    onError: (error) => app.log.error({ err: error }, 'background e-mail task failed'),
  });
  app.decorate('xms', { config, db, limits, mail });
  app.addHook('onClose', async () => mail.close());
  // expired counters are deleted hourly, as xms_auth like every other limiter statement
  const sweeper = setInterval(() => {
    clearExpiredLimits(db.authQuery).catch((error: unknown) => app.log.warn({ err: error }, 'rate-limit sweep failed'));
  }, 3_600_000);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));
  app.decorateRequest('session', null);
  app.decorateRequest('xmsTransaction', null);
  // a method of every request (no closure per request): the protected scope's transaction, if any
  app.decorateRequest('withDb', requestWithDb);
  installRouteRegistry(app);
  const openapi = options.openapi ?? config.env === 'development';
  if (openapi) await registerOpenApi(app, config.mail.appName);

  // Headers (I11): computed once at start-up from helmet, set in one synchronous hook and one call
  // (names already in lower case, as Fastify stores them: nothing is converted per request).
  const lowerCase = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const pageHeaders = lowerCase({ ...SECURITY_HEADERS });
  const apiHeaders = lowerCase({ ...SECURITY_HEADERS, 'cache-control': API_CACHE_CONTROL });
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.headers(request.url.startsWith('/api/') ? apiHeaders : pageHeaders);
    reply.header('x-request-id', request.id);
    done(null, payload);
  });

  // CSRF (I10): one hook for every route.
  app.addHook('onRequest', csrfHook(config.origin));

  // General API limit, per client IP (request.ip honours TRUST_PROXY only): every request counts,
  // 404s and the liveness probe included.
  const apiLimiter = new ApiLimiter(config.apiLimit.points, config.apiLimit.windowSeconds);
  app.addHook('onRequest', (request, reply, done) => {
    apiLimiter.consume(request.ip).then(
      () => done(),
      (error: unknown) => {
        if (error instanceof RateLimited) tooManyRequests(reply, error);
        else done(error as Error);
      },
    );
  });

  app.setErrorHandler(async (error: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    if (error instanceof RateLimited) return tooManyRequests(reply, error);
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) {
      // the log gets the error, the client a generic answer it can quote (src/server/logging.ts)
      request.log.error({ err: error, statusCode: 500 }, 'internal error');
      accessLog.errorLogged(request);
      return reply.code(500).send({ error: 'internal_error', message: 'Internal error.', requestId: request.id });
    }
    return reply.code(status).send({ error: error.validation ? 'invalid_request' : 'bad_request', message: error.message });
  });
  // every other 5xx (a route answering 503, say) is logged at error level by accessLog when the
  // response is done: no onResponse hook on every request for it

  // The one public scope.
  await app.register(async (publicScope) => {
    tagScope(publicScope, 'public');
    await publicScope.register(healthRoutes);
    await publicScope.register(authRoutes);
    await publicScope.register(loginMfaRoutes);
    await publicScope.register(uiRoutes, options.ui ?? {});
    if (openapi) await publicScope.register(openApiRoutes);
  });

  // The protected scope: every route here needs a live session; the admin scope lives inside it.
  await app.register(async (protectedScope) => {
    tagScope(protectedScope, 'protected');
    // ONE transaction per request (src/db/request.ts): opened by the session check, which also enters
    // the session's role, shared by everything the handler does, committed before the response is sent.
    // A route declared sessionOnly (it reads nothing but the session) gets the same check, committed
    // at once in the same round trip, and no transaction.
    protectedScope.addHook('onRequest', async (request, reply) => {
      const token = readSessionToken(request, config);
      let session: Session | undefined;
      if (token && request.routeOptions.config.sessionOnly) {
        session = await checkSession(options.db, config, token);
      } else if (token) {
        const opened = await openSession(options.db, config, token);
        session = opened?.session;
        request.xmsTransaction = opened?.tx ?? null;
      }
      if (!session) {
        if (token) clearSessionCookie(reply, config);
        return reply.code(401).send({ error: 'unauthenticated', message: 'Log in first.' });
      }
      request.session = session;
      // a user who must set up a second factor first reaches the enrolment only (src/auth/mfa.ts)
      if (session.enrolOnly && !ENROL_ONLY_ROUTES.has(`${request.method} ${request.routeOptions.url}`)) {
        return reply.code(403).send({ error: 'mfa_enrolment_required', message: 'Set up a second factor first.' });
      }
    });
    // The handler runs with the transaction as its async context, so the auth subsystem (src/server/db.ts)
    // joins it instead of opening a second one. Entered after the body is parsed, where the context holds.
    protectedScope.addHook('preHandler', (request, _reply, done) => {
      if (request.xmsTransaction) currentRequest.run(request.xmsTransaction, done);
      else done();
    });
    protectedScope.addHook('onSend', async (request, reply, payload) => {
      const tx = request.xmsTransaction;
      // a streamed body (CSV export) is still being read from the transaction: it ends once the
      // response has gone out (onResponse below), or at once if the stream fails
      if (!tx?.open || isStream(payload)) {
        if (tx?.open) finished(payload as NodeJS.ReadableStream, (error) => error && void tx.end(false).catch(() => undefined));
        return payload;
      }
      try {
        await tx.end(reply.statusCode < 400 || commitsOnError.has(request));
      } catch (error) {
        // the client must not see success for work that did not commit
        request.log.error({ err: error, reqId: request.id }, 'request transaction failed to commit');
        reply.code(500).header('content-type', 'application/json; charset=utf-8');
        return JSON.stringify({ error: 'internal_error', message: 'Internal error.', requestId: request.id });
      }
      return payload;
    });
    // After a streamed response, or a request that ended without one (aborted, timed out): end() is
    // idempotent, so a transaction onSend already ended is left as it is (the usual case: no promise).
    protectedScope.addHook('onResponse', (request, reply, done) => {
      const tx = request.xmsTransaction;
      if (!tx?.open) return done();
      tx.end(reply.statusCode < 400 || commitsOnError.has(request)).then(
        () => done(),
        (error: unknown) => {
          request.log.error({ err: error, reqId: request.id }, 'request transaction failed after the response');
          done();
        },
      );
    });
    protectedScope.addHook('onRequestAbort', async (request) => {
      await request.xmsTransaction?.end(false).catch(() => undefined);
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

function listeningOrigin(app: FastifyInstance): string {
  const address = app.server.address();
  if (!address || typeof address === 'string') return 'http://localhost';
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${address.port}`;
}

function isStream(payload: unknown): boolean {
  return typeof (payload as { pipe?: unknown } | null)?.pipe === 'function';
}

function tooManyRequests(reply: FastifyReply, error: RateLimited): FastifyReply {
  return reply
    .code(429)
    .header('retry-after', String(error.retryAfterSeconds))
    .send({ error: 'rate_limited', message: 'Too many attempts; try again later.' });
}
