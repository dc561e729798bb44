/**
 * SRV001-SRV004 of `xms check` (invariants I1, I2, I13): every route lives in a scope, and each scope
 * holds what it should. SRV001: no route or route module on the root instance (outside the public,
 * protected and admin scopes). SRV002: the public scope holds only routes on src/server/public-routes.ts,
 * and no protected route module. SRV003: admin route modules are in the admin scope, whose hook refuses
 * (403) a non-admin session, first and whole. SRV004: the protected scope's hook answers 401 without a
 * live session, and the session it hands the handlers comes from the session check. The hooks' guards
 * are read from their syntax trees by ./hook-guards.ts.
 * Input: the route inventory of ./routes.ts.
 */
import { join } from 'node:path';
import { finding, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';
import { guardHooks, type Inventory } from './routes.js';
import { adminGuardProblem, sessionGuardProblem } from './hook-guards.js';
import { sessionSourceProblem } from './session-source.js';

export function checkScopes(syntax: Syntax, inventory: Inventory | undefined): Finding[] {
  if (!inventory) {
    return [finding('SRV001-route-outside-scope', 'src/server/app.ts', 'the server module is missing: the route scopes cannot be verified', 'restore src/server/app.ts from the template')];
  }
  const out: Finding[] = [];
  const add = (id: string, object: string, message: string, fix: string) => out.push(finding(id, object, message, fix));
  const { appFile, routes, modules: registeredModules, scopeFns, publicList } = inventory;
  const rel = (file: string) => syntax.rel(file);

  // SRV001: outside every scope
  for (const m of registeredModules.filter((m) => m.scope === 'root')) {
    add('SRV001-route-outside-scope', m.at, `route module ${rel(m.module)} is registered on the root instance, outside the public, protected and admin scopes`,
      'register it inside the protected scope (src/routes/api/index.ts) or, if it must be public, in the public scope and on src/server/public-routes.ts');
  }
  for (const r of routes.filter((r) => r.scope === 'root' && r.module === rel(appFile))) {
    add('SRV001-route-outside-scope', r.at, `route ${r.method} ${r.url} is registered on the root instance, outside the protected scope`,
      'move it into a route module registered in the protected scope (src/routes/api)');
  }

  // SRV002: public scope only holds listed routes
  for (const r of routes.filter((r) => r.scope === 'public')) {
    const key = `${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}`;
    if (!publicList.has(key)) {
      add('SRV002-public-route-unlisted', r.at, `route ${key} is in the public scope (no session needed) but not on src/server/public-routes.ts`,
        'move it to the protected scope (src/routes/api), or list it in src/server/public-routes.ts if it truly needs no session');
    }
  }
  for (const m of registeredModules.filter((m) => m.scope === 'public' && /[\\/]routes[\\/](api|admin)[\\/]/.test(m.module))) {
    add('SRV002-public-route-unlisted', m.at, `the protected route module ${rel(m.module)} is registered in the public scope`, 'register it in the protected (or admin) scope');
  }

  // SRV003: admin modules in the admin scope; the admin scope checks the role
  for (const m of registeredModules.filter((m) => /[\\/]routes[\\/]admin[\\/]/.test(m.module) && m.scope !== 'admin')) {
    add('SRV003-admin-route-unguarded', m.at, `admin route module ${rel(m.module)} is registered in the ${m.scope} scope, without the server-side admin check`,
      'register it inside the admin scope (tagScope(adminScope, \'admin\')) of src/server/app.ts');
  }
  const adminModules = registeredModules.filter((m) => /[\\/]routes[\\/]admin[\\/]/.test(m.module));
  if (adminModules.length || scopeFns.admin) {
    const fn = scopeFns.admin;
    const guarded = fn && guardHooks(syntax, fn).some((t) => /\badmin\b/.test(t) && /\brole\b/.test(t) && /\b403\b/.test(t));
    const weakened = fn && guarded ? adminGuardProblem(syntax, fn) : undefined;
    if (!guarded) {
      add('SRV003-admin-route-unguarded', fn ? syntax.at(fn) : rel(appFile),
        fn ? 'the admin scope has no onRequest hook refusing (403) a session whose role is not admin' : 'admin routes exist but there is no admin scope',
        "restore the admin scope's hook: if (request.session?.role !== 'admin') return reply.code(403)...");
    } else if (weakened) {
      add('SRV003-admin-route-unguarded', syntax.at(fn), weakened,
        "restore the admin scope's hook: its first statement is if (request.session?.role !== 'admin') return reply.code(403)...");
    }
  }

  // SRV004: the protected scope answers 401 without a session
  const protectedFn = scopeFns.protected;
  if (!protectedFn) {
    add('SRV004-protected-scope-unguarded', rel(appFile), 'there is no protected scope (tagScope(instance, \'protected\'))', 'restore the protected scope of src/server/app.ts');
  } else if (!inventory.protectedHooks.some((t) => /\b401\b/.test(t) && /session/i.test(t))) {
    add('SRV004-protected-scope-unguarded', syntax.at(protectedFn), 'the protected scope has no onRequest hook that answers 401 without a live session',
      "restore the protected scope's session hook (openSession, 401 otherwise)");
  } else {
    const problem = sessionGuardProblem(syntax, protectedFn);
    if (problem) {
      add('SRV004-protected-scope-unguarded', syntax.at(protectedFn), `the protected scope's session hook may let a request through with a session no check vouched for: ${problem}`,
        "restore the session hook of src/server/app.ts: the session comes from checkSession() or openSession(), and `if (!session) return reply.code(401)...` comes before `request.session = session`");
    }
    const source = sessionSourceProblem(syntax);
    if (source) {
      add('SRV004-protected-scope-unguarded', join('src', 'auth', 'sessions.ts'), `the session the protected scope's hook is handed may not be the database's answer: ${source}`,
        'restore src/auth/sessions.ts and src/db/request.ts from the template: a session is the session row the database returned, field by field');
    }
  }
  return out;
}
