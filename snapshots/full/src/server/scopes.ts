import type { FastifyInstance, RouteOptions } from 'fastify';
import { PUBLIC_ROUTES } from './public-routes.js';

/**
 * Route scopes (invariants I1, I2). Every route is tagged by the scope it was registered in:
 *   public     the one public scope: only routes listed in src/server/public-routes.ts
 *   protected  needs a live session (the default: src/routes/api/index.ts)
 *   admin      needs a live session whose role is admin, checked on the server from the session
 * Any route registered elsewhere (on the root instance or another plugin) has no scope, and the
 * server refuses to start. The registry is what the tests enumerate: the route list comes from the
 * router, not from a hand-written list.
 */
export type Scope = 'public' | 'protected' | 'admin';

export interface RegisteredRoute {
  method: string;
  url: string;
  scope: Scope | undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    xmsScope?: Scope;
  }
  interface FastifyInstance {
    /** Every registered route with its scope (after ready()). */
    xmsRoutes(): RegisteredRoute[];
  }
}

export class RouteScopeError extends Error {
  override name = 'RouteScopeError';
}

/** Marks every route registered in this (encapsulated) instance and its children with a scope. */
export function tagScope(instance: FastifyInstance, scope: Scope): void {
  instance.addHook('onRoute', (route: RouteOptions) => {
    route.config = { ...(route.config as object | undefined), xmsScope: scope };
  });
}

function routeKey(method: string, url: string): string {
  return `${method === 'HEAD' ? 'GET' : method} ${url}`;
}

/** Installs the registry on the root instance and the start-up check. */
export function installRouteRegistry(app: FastifyInstance): void {
  const routes: RouteOptions[] = [];
  // root onRoute hooks run before the scopes' hooks; the options object is shared, so the scope is
  // read at ready time
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  const list = (): RegisteredRoute[] =>
    routes.flatMap((route) =>
      (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({
        method: String(method),
        url: route.url,
        scope: (route.config as { xmsScope?: Scope } | undefined)?.xmsScope,
      })),
    );
  app.decorate('xmsRoutes', list);
  app.addHook('onReady', async () => {
    const publicList = new Set(PUBLIC_ROUTES);
    for (const route of list()) {
      const key = routeKey(route.method, route.url);
      if (route.scope === undefined) {
        throw new RouteScopeError(`route ${route.method} ${route.url} is outside the protected scope and not public: register it in src/routes/api`);
      }
      if (route.scope === 'public' && !publicList.has(key)) {
        throw new RouteScopeError(`route ${key} is in the public scope but not listed in src/server/public-routes.ts`);
      }
      if (route.scope !== 'public' && publicList.has(key)) {
        throw new RouteScopeError(`route ${key} is listed as public but registered in the ${route.scope} scope`);
      }
    }
  });
}
