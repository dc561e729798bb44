/**
 * SRV018 of `xms check` (invariants I1, I2): a public route never lives in the URL space of the
 * protected or admin routes. SRV002 refuses a public route that is not on src/server/public-routes.ts;
 * this check holds even when the list was edited too: a public route under the admin scope's prefix
 * (e.g. /api/admin/...), or on / under a protected route's path (e.g. /api/records/export next to
 * GET /api/records), is an unguarded door into data that needs a session or the admin role.
 * Input: the route inventory that ./routes.ts reads from the source.
 */
import { finding } from '../syntax.js';
import type { Finding } from '../types.js';

export interface InventoryRoute {
  method: string;
  url: string;
  scope: 'public' | 'protected' | 'admin' | 'root';
  at: string;
}

const ID = 'SRV018-public-route-in-private-namespace';

const segments = (url: string) => url.split('/').filter(Boolean);
/** The path up to its first parameter or wildcard segment: /api/records/:id -> /api/records. */
function staticPart(url: string): string[] {
  const all = segments(url);
  const dynamic = all.findIndex((s) => s.startsWith(':') || s.includes('*'));
  return dynamic < 0 ? all : all.slice(0, dynamic);
}

function commonPrefix(paths: string[][]): string[] {
  const out: string[] = [];
  for (let i = 0; paths.length > 0; i++) {
    const s = paths[0]![i];
    if (s === undefined || !paths.every((p) => p[i] === s)) break;
    out.push(s);
  }
  return out;
}
const under = (url: string[], prefix: string[]) => prefix.length <= url.length && prefix.every((s, i) => url[i] === s);

export function checkRouteNamespaces(routes: InventoryRoute[]): Finding[] {
  const out: Finding[] = [];
  // the admin scope's namespace: the common prefix of its routes (/api/admin)
  const adminPrefix = commonPrefix(routes.filter((r) => r.scope === 'admin').map((r) => staticPart(r.url)));
  // every protected / admin route's own path (two segments at least: /api alone is shared with the public auth routes)
  const privatePaths = routes.filter((r) => r.scope === 'protected' || r.scope === 'admin').map((r) => ({ route: r, path: staticPart(r.url) }));
  for (const r of routes.filter((x) => x.scope === 'public')) {
    const url = segments(r.url);
    if (adminPrefix.length >= 2 && under(url, adminPrefix)) {
      out.push(finding(ID, r.at, `public route ${r.method} ${r.url} lies under the admin prefix /${adminPrefix.join('/')}: it answers without a session or the admin role`,
        'move it to src/routes/admin (the admin scope), and off src/server/public-routes.ts'));
      continue;
    }
    const clash = privatePaths.find((p) => p.path.length >= 2 && under(url, p.path));
    if (clash) {
      out.push(finding(ID, r.at, `public route ${r.method} ${r.url} lies in the path of the ${clash.route.scope} route ${clash.route.method} ${clash.route.url} (${clash.route.at}): it answers the same resource without a session`,
        `move it into the ${clash.route.scope} route module, and off src/server/public-routes.ts`));
    }
  }
  return out;
}
