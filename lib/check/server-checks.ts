/**
 * Server and source checks of `xms check` (invariants I1, I2, I9, I11, I12, I13): the app's TypeScript
 * is parsed with the TypeScript compiler API (syntax trees only: no type-checking, no execution) and
 * the security-relevant structure is read from it:
 *   - src/server/app.ts: which scope (tagScope(instance, 'public' | 'protected' | 'admin')) every route
 *     and route module is registered in, the guard hooks of the protected and admin scopes;
 *   - route modules (followed through their imports): every route's method and URL;
 *   - src/server/public-routes.ts: the one public list;
 *   - src/security/headers.ts: CSP directives and helmet's HSTS / framing options;
 *   - src/auth/sessions.ts: the session cookie options; src/config.ts: the password minimum;
 *   - src/routes/public/*: rate limiting of the credential routes; src/security/rate-limit.ts: its store.
 * Further families live in their own modules on the shared ./syntax.ts helpers: ./config-checks.ts
 * (session lifetimes, proxy trust), ./password-hash.ts (argon2id cost), ./route-namespaces.ts (public
 * routes inside the protected / admin URL space, from the route inventory read here).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type * as TS from 'typescript';
import { checkConfig } from './config-checks.js';
import { importFrom } from './database.js';
import { checkPasswordHash } from './password-hash.js';
import { checkMfaStep } from './mfa-step.js';
import { checkRouteNamespaces } from './route-namespaces.js';
import { Syntax } from './syntax.js';
import type { Finding } from './types.js';

export type Scope = 'public' | 'protected' | 'admin' | 'root';

const ROUTE_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'all']);
const CREDENTIAL_ROUTE = /login|log-in|signin|sign-in|signup|sign-up|register|reset|password|verify|email/i;

interface Route {
  method: string;
  url: string;
  scope: Scope;
  /** file:line of the route definition */
  at: string;
  /** the route module file (relative) */
  module: string;
  /** the route handler's source text (for the rate-limit check) */
  handler: string;
}

export async function checkServer(appDir: string): Promise<Finding[]> {
  const ts = (await importFrom<{ default: typeof TS }>('typescript', appDir)).default;
  const checks = new ServerChecks(ts, appDir);
  const findings = checks.run();
  // the check families in their own modules (SRV015-SRV018), on the same parsed files
  const syntax = checks.syntax;
  findings.push(...checkConfig(syntax), ...checkPasswordHash(syntax), ...checkRouteNamespaces(checks.found));
  findings.push(...checkMfaStep(appDir, checks.found, checks.publicRoutes, checks.protectedHooks));
  return findings;
}

/** The routes as the check sees them (method, URL, scope, where), read from the source. */
export async function routeInventory(appDir: string): Promise<Array<{ method: string; url: string; scope: Scope; at: string }>> {
  const ts = (await importFrom<{ default: typeof TS }>('typescript', appDir)).default;
  const checks = new ServerChecks(ts, appDir);
  checks.run();
  return checks.found.map(({ method, url, scope, at }) => ({ method, url, scope, at }));
}

class ServerChecks {
  private readonly out: Finding[] = [];
  /** every route found (after run()) */
  found: Route[] = [];
  /** src/server/public-routes.ts as read (after run()) */
  publicRoutes = new Set<string>();
  /** the source of the protected scope's guard hooks (after run()) */
  protectedHooks: string[] = [];
  /** the parser and its parsed files, shared with the check families of their own modules */
  readonly syntax: Syntax;

  constructor(private readonly ts: typeof TS, private readonly appDir: string) {
    this.syntax = new Syntax(ts, appDir);
  }

  run(): Finding[] {
    this.routes();
    this.headers();
    this.cookies();
    this.passwords();
    this.deployHeaders();
    this.sourceScan();
    return this.out;
  }

  // ------------------------------------------------------------------ helpers
  private add(id: string, object: string, message: string, fix: string, severity: Finding['severity'] = 'error') {
    this.out.push({ id, severity, object, message, fix });
  }

  private rel(file: string): string {
    return relative(this.appDir, file);
  }

  private source(file: string): TS.SourceFile | undefined {
    return this.syntax.parse(file, /\.[jt]sx$/.test(file) ? this.ts.ScriptKind.TSX : this.ts.ScriptKind.TS);
  }

  private at(node: TS.Node): string {
    const sf = node.getSourceFile();
    return `${this.rel(sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  }

  private walk(node: TS.Node, visit: (n: TS.Node) => void): void {
    visit(node);
    node.forEachChild((c) => this.walk(c, visit));
  }

  private str(node: TS.Node | undefined): string | undefined {
    if (!node) return undefined;
    if (this.ts.isStringLiteral(node) || this.ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
    return undefined;
  }

  private num(node: TS.Node | undefined): number | undefined {
    const ts = this.ts;
    if (!node) return undefined;
    if (ts.isNumericLiteral(node)) return Number(node.text.replace(/_/g, ''));
    if (ts.isParenthesizedExpression(node)) return this.num(node.expression);
    if (ts.isBinaryExpression(node)) {
      const a = this.num(node.left);
      const b = this.num(node.right);
      if (a === undefined || b === undefined) return undefined;
      if (node.operatorToken.kind === ts.SyntaxKind.AsteriskToken) return a * b;
      if (node.operatorToken.kind === ts.SyntaxKind.PlusToken) return a + b;
      if (node.operatorToken.kind === ts.SyntaxKind.MinusToken) return a - b;
    }
    return undefined;
  }

  private prop(obj: TS.ObjectLiteralExpression, name: string): TS.Expression | undefined {
    for (const p of obj.properties) {
      if (this.ts.isPropertyAssignment(p) && this.propName(p.name) === name) return p.initializer;
      if (this.ts.isShorthandPropertyAssignment(p) && p.name.text === name) return p.name;
    }
    return undefined;
  }

  private propName(name: TS.PropertyName): string | undefined {
    if (this.ts.isIdentifier(name) || this.ts.isStringLiteral(name) || this.ts.isNumericLiteral(name)) return name.text;
    return undefined;
  }

  private calleeName(call: TS.CallExpression): string | undefined {
    const e = call.expression;
    if (this.ts.isIdentifier(e)) return e.text;
    if (this.ts.isPropertyAccessExpression(e)) return e.name.text;
    return undefined;
  }

  /** import name -> absolute .ts file (relative imports only). */
  private imports(sf: TS.SourceFile): Map<string, string> {
    const map = new Map<string, string>();
    for (const st of sf.statements) {
      if (!this.ts.isImportDeclaration(st) || !st.importClause) continue;
      const spec = this.str(st.moduleSpecifier);
      if (!spec || !spec.startsWith('.')) continue;
      const file = resolve(dirname(sf.fileName), spec).replace(/\.js$/, '.ts');
      const target = existsSync(file) ? file : existsSync(`${file}.ts`) ? `${file}.ts` : join(file, 'index.ts');
      const named = st.importClause.namedBindings;
      if (named && this.ts.isNamedImports(named)) for (const el of named.elements) map.set(el.name.text, target);
      if (st.importClause.name) map.set(st.importClause.name.text, target);
    }
    return map;
  }

  /** The enclosing function nodes of a node, innermost first. */
  private functionsAround(node: TS.Node): TS.FunctionLikeDeclaration[] {
    const out: TS.FunctionLikeDeclaration[] = [];
    for (let n: TS.Node | undefined = node.parent; n; n = n.parent) {
      if (this.ts.isArrowFunction(n) || this.ts.isFunctionExpression(n) || this.ts.isFunctionDeclaration(n) || this.ts.isMethodDeclaration(n)) out.push(n);
    }
    return out;
  }

  /** The scope a function tags its first parameter with (tagScope(param, 'x')), if any. */
  private taggedScope(fn: TS.FunctionLikeDeclaration): Scope | undefined {
    const param = fn.parameters[0];
    if (!param || !this.ts.isIdentifier(param.name) || !fn.body) return undefined;
    const name = param.name.text;
    let scope: Scope | undefined;
    const visit = (n: TS.Node): void => {
      if (scope) return;
      if (n !== fn && (this.ts.isArrowFunction(n) || this.ts.isFunctionExpression(n))) return; // not nested scopes
      if (this.ts.isCallExpression(n) && this.calleeName(n) === 'tagScope') {
        const [target, value] = n.arguments;
        const v = this.str(value);
        if (target && this.ts.isIdentifier(target) && target.text === name && (v === 'public' || v === 'protected' || v === 'admin')) scope = v;
      }
      n.forEachChild(visit);
    };
    fn.body.forEachChild(visit);
    return scope;
  }

  /**
   * The scope a call like `instance.register(...)` / `instance.get(...)` registers into: that of the
   * function declaring `instance` as its parameter (tagScope(instance, 'x')), or, for an untagged
   * plugin function, the scope of the instance it is registered on. The root instance: 'root'.
   */
  private scopeOf(call: TS.CallExpression): Scope {
    const callee = call.expression;
    if (!this.ts.isPropertyAccessExpression(callee)) return 'root';
    let receiver: TS.Expression = callee.expression;
    while (this.ts.isParenthesizedExpression(receiver) || this.ts.isNonNullExpression(receiver)) receiver = receiver.expression;
    if (!this.ts.isIdentifier(receiver)) return 'root';
    const name = receiver.text;
    const fn = this.functionsAround(call).find((f) => f.parameters.some((p) => this.ts.isIdentifier(p.name) && p.name.text === name));
    if (!fn) return 'root';
    const tagged = this.taggedScope(fn);
    if (tagged) return tagged;
    const parent = fn.parent;
    if (parent && this.ts.isCallExpression(parent) && this.calleeName(parent) === 'register') return this.scopeOf(parent);
    return 'root';
  }

  /** The hooks (addHook('onRequest' | 'preHandler' | ...)) registered on a scope function's instance. */
  private guardHooks(fn: TS.FunctionLikeDeclaration): string[] {
    const texts: string[] = [];
    const visit = (n: TS.Node): void => {
      if (n !== fn && (this.ts.isArrowFunction(n) || this.ts.isFunctionExpression(n)) && this.ts.isCallExpression(n.parent) && this.calleeName(n.parent) === 'register') return;
      if (this.ts.isCallExpression(n) && this.calleeName(n) === 'addHook') {
        const hook = this.str(n.arguments[0]);
        if (hook && ['onRequest', 'preParsing', 'preValidation', 'preHandler'].includes(hook) && n.arguments[1]) texts.push(n.arguments[1].getText());
      }
      n.forEachChild(visit);
    };
    fn.body?.forEachChild(visit);
    return texts;
  }

  // ------------------------------------------------------------------ routes (I1, I2, I13)
  private routes(): void {
    const serverDir = join(this.appDir, 'src', 'server');
    const candidates = existsSync(serverDir) ? readdirSync(serverDir).filter((f) => f.endsWith('.ts')).map((f) => join(serverDir, f)) : [];
    const appFile = candidates.find((f) => /\btagScope\s*\(/.test(readFileSync(f, 'utf8')) && !f.endsWith('scopes.ts')) ?? join(serverDir, 'app.ts');
    const sf = this.source(appFile);
    if (!sf) {
      this.add('SRV001-route-outside-scope', 'src/server/app.ts', 'the server module is missing: the route scopes cannot be verified', 'restore src/server/app.ts from the template');
      return;
    }
    const imports = this.imports(sf);
    const routes: Route[] = [];
    const scopeFns: Partial<Record<Scope, TS.FunctionLikeDeclaration>> = {};
    const registeredModules: Array<{ module: string; scope: Scope; at: string }> = [];

    this.walk(sf, (n) => {
      if (this.ts.isArrowFunction(n) || this.ts.isFunctionExpression(n)) {
        const s = this.taggedScope(n);
        if (s && !scopeFns[s]) scopeFns[s] = n;
      }
      if (!this.ts.isCallExpression(n) || !this.ts.isPropertyAccessExpression(n.expression)) return;
      const name = n.expression.name.text;
      if (name === 'register') {
        const plugin = n.arguments[0];
        if (plugin && this.ts.isIdentifier(plugin) && imports.has(plugin.text)) {
          const scope = this.scopeOf(n);
          const module = imports.get(plugin.text)!;
          registeredModules.push({ module, scope, at: this.at(n) });
          routes.push(...this.moduleRoutes(module, plugin.text, scope, this.prefixOf(n.arguments[1]), new Set()));
        }
      } else {
        const route = this.routeCall(n, '');
        if (route) routes.push({ ...route, scope: this.scopeOf(n), module: this.rel(appFile) });
      }
    });

    this.found = routes;
    this.rootHooks(sf);

    // SRV001: outside every scope
    for (const m of registeredModules.filter((m) => m.scope === 'root')) {
      this.add('SRV001-route-outside-scope', m.at, `route module ${this.rel(m.module)} is registered on the root instance, outside the public, protected and admin scopes`,
        'register it inside the protected scope (src/routes/api/index.ts) or, if it must be public, in the public scope and on src/server/public-routes.ts');
    }
    for (const r of routes.filter((r) => r.scope === 'root' && r.module === this.rel(appFile))) {
      this.add('SRV001-route-outside-scope', r.at, `route ${r.method} ${r.url} is registered on the root instance, outside the protected scope`,
        'move it into a route module registered in the protected scope (src/routes/api)');
    }

    // SRV002: public scope only holds listed routes
    const publicList = this.publicList();
    this.publicRoutes = publicList;
    for (const r of routes.filter((r) => r.scope === 'public')) {
      const key = `${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}`;
      if (!publicList.has(key)) {
        this.add('SRV002-public-route-unlisted', r.at, `route ${key} is in the public scope (no session needed) but not on src/server/public-routes.ts`,
          'move it to the protected scope (src/routes/api), or list it in src/server/public-routes.ts if it truly needs no session');
      }
    }
    for (const m of registeredModules.filter((m) => m.scope === 'public' && /[\\/]routes[\\/](api|admin)[\\/]/.test(m.module))) {
      this.add('SRV002-public-route-unlisted', m.at, `the protected route module ${this.rel(m.module)} is registered in the public scope`, 'register it in the protected (or admin) scope');
    }

    // SRV003: admin modules in the admin scope; the admin scope checks the role
    for (const m of registeredModules.filter((m) => /[\\/]routes[\\/]admin[\\/]/.test(m.module) && m.scope !== 'admin')) {
      this.add('SRV003-admin-route-unguarded', m.at, `admin route module ${this.rel(m.module)} is registered in the ${m.scope} scope, without the server-side admin check`,
        'register it inside the admin scope (tagScope(adminScope, \'admin\')) of src/server/app.ts');
    }
    const adminModules = registeredModules.filter((m) => /[\\/]routes[\\/]admin[\\/]/.test(m.module));
    if (adminModules.length || scopeFns.admin) {
      const fn = scopeFns.admin;
      const guarded = fn && this.guardHooks(fn).some((t) => /\badmin\b/.test(t) && /\brole\b/.test(t) && /\b403\b/.test(t));
      if (!guarded) {
        this.add('SRV003-admin-route-unguarded', fn ? this.at(fn) : this.rel(appFile),
          fn ? 'the admin scope has no onRequest hook refusing (403) a session whose role is not admin' : 'admin routes exist but there is no admin scope',
          "restore the admin scope's hook: if (request.session?.role !== 'admin') return reply.code(403)...");
      }
    }

    // SRV004: the protected scope answers 401 without a session
    const protectedFn = scopeFns.protected;
    if (protectedFn) this.protectedHooks = this.guardHooks(protectedFn);
    if (!protectedFn) {
      this.add('SRV004-protected-scope-unguarded', this.rel(appFile), 'there is no protected scope (tagScope(instance, \'protected\'))', 'restore the protected scope of src/server/app.ts');
    } else if (!this.guardHooks(protectedFn).some((t) => /\b401\b/.test(t) && /session/i.test(t))) {
      this.add('SRV004-protected-scope-unguarded', this.at(protectedFn), 'the protected scope has no onRequest hook that answers 401 without a live session',
        "restore the protected scope's session hook (openSession, 401 otherwise)");
    }

    // SRV010: credential routes are rate limited in a shared store
    const credentialRoutes = routes.filter((r) => r.scope === 'public' && r.method !== 'GET' && CREDENTIAL_ROUTE.test(r.url));
    if (publicList.size > 0 && credentialRoutes.length === 0 && [...publicList].some((k) => CREDENTIAL_ROUTE.test(k))) {
      this.add('SRV010-auth-not-rate-limited', 'src/routes/public', 'the log-in / sign-up / reset routes of the public list were not found in the public scope', 'register the auth routes in the public scope');
    }
    for (const r of credentialRoutes) {
      // consume first: an attempt counted only after the secret was verified lets a parallel burst
      // through (every request passes the check before any of them is counted)
      const consumed = /\blimits\s*\.\s*\w+\s*\.\s*consume(Ip)?\s*\(/.exec(r.handler);
      const verifies = /\b(authenticate|verifyPassword|redeemResetToken|redeemVerification|signUp|checkPassword)\s*\(/.exec(r.handler);
      if (!consumed || (verifies && verifies.index < consumed.index)) {
        this.add('SRV010-auth-not-rate-limited', r.at, `${r.method} ${r.url} does not consume its rate limiter before verifying (limits.<action>.consume)`,
          'call await limits.<action>.consume(request.ip, email) before anything secret is checked, and limits.<action>.succeeded(...) on success');
      }
    }
    this.rateLimitStore();
  }

  /** Hooks on the root instance (they apply to every route): the security headers and CSRF. */
  private rootHooks(sf: TS.SourceFile): void {
    const hooks: Array<{ name: string; text: string }> = [];
    const headerNames = new Set(['SECURITY_HEADERS']);
    this.walk(sf, (n) => {
      if (this.ts.isVariableDeclaration(n) && this.ts.isIdentifier(n.name) && n.initializer && /\bSECURITY_HEADERS\b/.test(n.initializer.getText())) headerNames.add(n.name.text);
      if (this.ts.isCallExpression(n) && this.calleeName(n) === 'addHook' && this.scopeOf(n) === 'root') {
        hooks.push({ name: this.str(n.arguments[0]) ?? '?', text: n.arguments.slice(1).map((a) => a.getText()).join(' ') });
      }
    });
    const mentions = (text: string) => [...headerNames].some((h) => new RegExp(`\\b${h}\\b`).test(text));
    if (!hooks.some((h) => ['onSend', 'onRequest', 'preHandler', 'onResponse'].includes(h.name) && /header/i.test(h.text) && mentions(h.text))) {
      this.add('SRV005-csp-weak', this.rel(sf.fileName), 'no hook on the root instance sets SECURITY_HEADERS: responses go out without CSP, HSTS or framing headers',
        'restore the root onSend hook that sets every SECURITY_HEADERS entry');
    }
    if (!hooks.some((h) => ['onRequest', 'preHandler', 'preValidation'].includes(h.name) && /csrf/i.test(h.text))) {
      this.add('SRV014-csrf-unguarded', this.rel(sf.fileName), 'no onRequest hook on the root instance refuses cross-site state-changing requests (csrfHook)',
        "restore app.addHook('onRequest', csrfHook(config.origin)) in src/server/app.ts");
    }
  }

  private prefixOf(options: TS.Expression | undefined): string {
    if (options && this.ts.isObjectLiteralExpression(options)) return this.str(this.prop(options, 'prefix')) ?? '';
    return '';
  }

  /** A route definition call (instance.get('/x', ...) or instance.route({ method, url })). */
  private routeCall(n: TS.CallExpression, prefix: string): Omit<Route, 'scope' | 'module'> | undefined {
    if (!this.ts.isPropertyAccessExpression(n.expression)) return undefined;
    const name = n.expression.name.text;
    const handler = n.arguments.length ? n.arguments[n.arguments.length - 1]!.getText() : '';
    if (ROUTE_METHODS.has(name)) {
      const url = this.str(n.arguments[0]) ?? this.templateUrl(n.arguments[0]);
      if (url === undefined || !url.startsWith('/')) return undefined;
      return { method: name === 'all' ? 'ALL' : name.toUpperCase(), url: joinUrl(prefix, url), at: this.at(n), handler };
    }
    if (name === 'route' && n.arguments[0] && this.ts.isObjectLiteralExpression(n.arguments[0])) {
      const o = n.arguments[0];
      const url = this.str(this.prop(o, 'url')) ?? this.str(this.prop(o, 'path'));
      const m = this.prop(o, 'method');
      const method = this.str(m) ?? (m && this.ts.isArrayLiteralExpression(m) ? m.elements.map((e) => this.str(e)).join(',') : undefined);
      if (url === undefined || method === undefined) return undefined;
      return { method: method.toUpperCase(), url: joinUrl(prefix, url), at: this.at(n), handler: o.getText() };
    }
    return undefined;
  }

  /** A template URL built from the module's constants (`/${TABLE}/:id` with const TABLE = 'records'). */
  private templateUrl(node: TS.Expression | undefined): string | undefined {
    if (!node || !this.ts.isTemplateExpression(node)) return undefined;
    const value = this.syntax.evaluate(node, this.syntax.constants(node.getSourceFile()));
    return typeof value === 'string' ? value : undefined;
  }

  /** Routes of an exported plugin in a module (and the modules it registers), all in one scope. */
  private moduleRoutes(file: string, exportName: string, scope: Scope, prefix: string, seen: Set<string>): Route[] {
    const key = `${file}#${exportName}`;
    if (seen.has(key)) return [];
    seen.add(key);
    const sf = this.source(file);
    if (!sf) return [];
    const imports = this.imports(sf);
    let body: TS.Node | undefined;
    this.walk(sf, (n) => {
      if (body) return;
      if (this.ts.isVariableDeclaration(n) && this.ts.isIdentifier(n.name) && n.name.text === exportName && n.initializer) body = n.initializer;
      if (this.ts.isFunctionDeclaration(n) && n.name?.text === exportName) body = n;
    });
    if (!body) {
      // a default export (import name differs), else the whole module
      for (const st of sf.statements) {
        if (this.ts.isExportAssignment(st)) body = st.expression;
        if (this.ts.isFunctionDeclaration(st) && st.modifiers?.some((m) => m.kind === this.ts.SyntaxKind.DefaultKeyword)) body = st;
      }
    }
    if (!body) body = sf;
    const routes: Route[] = [];
    this.walk(body, (n) => {
      if (!this.ts.isCallExpression(n) || !this.ts.isPropertyAccessExpression(n.expression)) return;
      if (n.expression.name.text === 'register') {
        const plugin = n.arguments[0];
        if (plugin && this.ts.isIdentifier(plugin)) {
          // follow the app's own plugins (relative imports or declared in this file), not libraries
          const target = imports.get(plugin.text) ?? (this.declares(sf, plugin.text) ? file : undefined);
          if (target) routes.push(...this.moduleRoutes(target, plugin.text, scope, joinUrl(prefix, this.prefixOf(n.arguments[1])), seen));
        }
        return;
      }
      const r = this.routeCall(n, prefix);
      if (r) routes.push({ ...r, scope, module: this.rel(file) });
    });
    return routes;
  }

  private declares(sf: TS.SourceFile, name: string): boolean {
    let found = false;
    this.walk(sf, (n) => {
      if ((this.ts.isVariableDeclaration(n) || this.ts.isFunctionDeclaration(n)) && n.name && this.ts.isIdentifier(n.name) && n.name.text === name) found = true;
    });
    return found;
  }

  private publicList(): Set<string> {
    const file = join(this.appDir, 'src', 'server', 'public-routes.ts');
    const sf = this.source(file);
    const out = new Set<string>();
    if (!sf) return out;
    this.walk(sf, (n) => {
      if (this.ts.isVariableDeclaration(n) && n.initializer) {
        let init: TS.Node = n.initializer;
        while (this.ts.isAsExpression(init) || this.ts.isSatisfiesExpression(init) || this.ts.isParenthesizedExpression(init)) init = init.expression;
        if (this.ts.isArrayLiteralExpression(init)) {
          for (const e of init.elements) {
            const s = this.str(e);
            if (s && /^[A-Z]+ \//.test(s)) out.add(s.replace(/\s+/g, ' ').trim());
          }
        }
      }
    });
    return out;
  }

  private rateLimitStore(): void {
    const file = join(this.appDir, 'src', 'security', 'rate-limit.ts');
    const sf = this.source(file);
    if (!sf) {
      this.add('SRV010-auth-not-rate-limited', 'src/security/rate-limit.ts', 'the rate limiter module is missing', 'restore src/security/rate-limit.ts (shared PostgreSQL store)');
      return;
    }
    let cls: TS.ClassDeclaration | undefined;
    const functions = new Map<string, TS.FunctionDeclaration>();
    this.walk(sf, (n) => {
      if (this.ts.isClassDeclaration(n) && n.name?.text === 'ActionLimiter') cls = n;
      if (this.ts.isFunctionDeclaration(n) && n.name) functions.set(n.name.text, n);
    });
    if (!cls) {
      this.add('SRV010-auth-not-rate-limited', 'src/security/rate-limit.ts', 'class ActionLimiter (the credential routes\' limiter) is missing', 'restore it from the template');
      return;
    }
    // the class and the module functions it calls, one level deep
    let text = cls.getText();
    for (const m of text.matchAll(/\b([A-Za-z_]\w*)\s*\(/g)) if (functions.has(m[1]!)) text += functions.get(m[1]!)!.getText();
    const shared = /new\s+RateLimiter(Postgres|Redis|Memcache|Mongo|MySQL|Cluster|Union)\b/.test(text);
    const local = /new\s+RateLimiter(Memory|Queue)?\s*\(/.test(text.replace(/new\s+RateLimiter(Postgres|Redis|Memcache|Mongo|MySQL|Cluster|Union)\b/g, ''));
    if (!shared || local) {
      this.add('SRV010-auth-not-rate-limited', this.at(cls), 'the credential routes\' limiter does not use a shared store (each instance would count alone, so N instances allow N times the attempts)',
        'use RateLimiterPostgres (the template\'s store in app_private.auth_rate_limits)');
    }
  }

  // ------------------------------------------------------------------ headers (I11)
  private headers(): void {
    const file = join(this.appDir, 'src', 'security', 'headers.ts');
    const sf = this.source(file);
    if (!sf) {
      this.add('SRV005-csp-weak', 'src/security/headers.ts', 'the security headers module is missing', 'restore src/security/headers.ts');
      return;
    }
    const objects = new Map<string, TS.ObjectLiteralExpression>();
    let helmetOptions: TS.ObjectLiteralExpression | undefined;
    this.walk(sf, (n) => {
      if (this.ts.isVariableDeclaration(n) && this.ts.isIdentifier(n.name) && n.initializer) {
        let init: TS.Node = n.initializer;
        while (this.ts.isAsExpression(init) || this.ts.isSatisfiesExpression(init) || this.ts.isParenthesizedExpression(init)) init = init.expression;
        if (this.ts.isObjectLiteralExpression(init)) objects.set(n.name.text, init);
      }
      if (this.ts.isCallExpression(n) && this.calleeName(n) === 'helmet' && n.arguments[0] && this.ts.isObjectLiteralExpression(n.arguments[0])) helmetOptions = n.arguments[0];
    });
    const resolveObj = (e: TS.Expression | undefined) =>
      e && this.ts.isObjectLiteralExpression(e) ? e : e && this.ts.isIdentifier(e) ? objects.get(e.text) : undefined;
    const isFalse = (e: TS.Expression | undefined) => e !== undefined && e.kind === this.ts.SyntaxKind.FalseKeyword;

    // headers deleted or overwritten after helmet computed them
    const tampered = new Map<string, string>();
    this.walk(sf, (n) => {
      let target: TS.Node | undefined;
      if (this.ts.isDeleteExpression(n)) target = n.expression;
      if (this.ts.isBinaryExpression(n) && n.operatorToken.kind === this.ts.SyntaxKind.EqualsToken) target = n.left;
      if (target && this.ts.isElementAccessExpression(target)) {
        const key = this.str(target.argumentExpression)?.toLowerCase();
        if (key) tampered.set(key, this.at(n));
      }
    });

    const csp = helmetOptions ? this.prop(helmetOptions, 'contentSecurityPolicy') : undefined;
    const cspObj = resolveObj(csp);
    const directives = cspObj ? resolveObj(this.prop(cspObj, 'directives')) : objects.get('CSP_DIRECTIVES');
    const d = new Map<string, string[]>();
    if (directives) {
      for (const p of directives.properties) {
        if (!this.ts.isPropertyAssignment(p)) continue;
        const name = this.propName(p.name);
        if (!name) continue;
        const values = this.ts.isArrayLiteralExpression(p.initializer) ? p.initializer.elements.map((e) => this.str(e) ?? '?') : [this.str(p.initializer) ?? '?'];
        d.set(name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), values);
      }
    }
    const where = directives ? this.at(directives) : this.rel(file);
    const cspProblems: string[] = [];
    if (!helmetOptions) cspProblems.push('helmet() is not called with explicit options');
    if (isFalse(csp)) cspProblems.push('helmet\'s contentSecurityPolicy is disabled (false)');
    if (!directives) cspProblems.push('no CSP directives found (CSP_DIRECTIVES)');
    if (tampered.has('content-security-policy')) cspProblems.push(`the Content-Security-Policy header is deleted or overwritten at ${tampered.get('content-security-policy')}`);
    if (directives) {
      if (!d.has('default-src')) cspProblems.push('no default-src');
      const script = d.get('script-src') ?? d.get('default-src') ?? [];
      for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'http:', 'https:', "'unsafe-hashes'", '?']) {
        if (script.includes(bad)) cspProblems.push(`script-src allows ${bad === '?' ? 'a computed value' : bad}`);
      }
      if ((d.get('object-src') ?? d.get('default-src'))?.join(' ') !== "'none'") cspProblems.push("object-src is not 'none'");
      if (!d.has('base-uri')) cspProblems.push('no base-uri');
    }
    for (const p of cspProblems) {
      this.add('SRV005-csp-weak', where, `Content-Security-Policy: ${p}`, "keep script-src 'self' (no 'unsafe-inline' / 'unsafe-eval'), default-src 'self', object-src 'none', base-uri 'none' in src/security/headers.ts");
    }

    // HSTS
    const hsts = helmetOptions ? this.prop(helmetOptions, 'strictTransportSecurity') ?? this.prop(helmetOptions, 'hsts') : undefined;
    const hstsFix = 'strictTransportSecurity: { maxAge: 63072000, includeSubDomains: true } in src/security/headers.ts';
    if (isFalse(hsts)) this.add('SRV006-hsts-weak', this.at(hsts!), 'HSTS is disabled (strictTransportSecurity: false)', hstsFix);
    if (tampered.has('strict-transport-security')) this.add('SRV006-hsts-weak', tampered.get('strict-transport-security')!, 'the Strict-Transport-Security header is deleted or overwritten', hstsFix);
    const hstsObj = resolveObj(hsts);
    if (hstsObj) {
      const maxAge = this.num(this.prop(hstsObj, 'maxAge'));
      if (maxAge === undefined || maxAge < 31536000) this.add('SRV006-hsts-weak', this.at(hstsObj), `HSTS max-age ${maxAge ?? '(not a constant)'} is below one year (31536000)`, hstsFix);
      if (isFalse(this.prop(hstsObj, 'includeSubDomains'))) this.add('SRV006-hsts-weak', this.at(hstsObj), 'HSTS without includeSubDomains', hstsFix);
    }

    // framing, nosniff, referrer
    const frameFix = "frame-ancestors 'none' in the CSP and xFrameOptions: { action: 'deny' }";
    if ((d.get('frame-ancestors') ?? []).join(' ') !== "'none'") this.add('SRV007-framing-allowed', where, "CSP frame-ancestors is not 'none' (the app can be framed: clickjacking)", frameFix);
    for (const [opt, header, label] of [
      ['xFrameOptions', 'x-frame-options', 'X-Frame-Options'],
      ['frameguard', 'x-frame-options', 'X-Frame-Options'],
      ['xContentTypeOptions', 'x-content-type-options', 'X-Content-Type-Options: nosniff'],
      ['noSniff', 'x-content-type-options', 'X-Content-Type-Options: nosniff'],
      ['referrerPolicy', 'referrer-policy', 'Referrer-Policy'],
    ] as const) {
      const v = helmetOptions ? this.prop(helmetOptions, opt) : undefined;
      if (isFalse(v)) this.add('SRV007-framing-allowed', this.at(v!), `${label} is disabled (${opt}: false)`, frameFix);
      if (tampered.has(header)) this.add('SRV007-framing-allowed', tampered.get(header)!, `the ${label} header is deleted or overwritten`, frameFix);
    }
    const xfo = helmetOptions ? resolveObj(this.prop(helmetOptions, 'xFrameOptions') ?? this.prop(helmetOptions, 'frameguard')) : undefined;
    const action = xfo ? this.str(this.prop(xfo, 'action'))?.toLowerCase() : undefined;
    if (xfo && action !== 'deny' && action !== 'sameorigin') this.add('SRV007-framing-allowed', this.at(xfo), `X-Frame-Options action ${action ?? '(computed)'}`, frameFix);

  }

  // ------------------------------------------------------------------ cookies (I9)
  private cookies(): void {
    const file = join(this.appDir, 'src', 'auth', 'sessions.ts');
    const sf = this.source(file);
    const fix = "serializeCookie(name, token, { httpOnly: true, secure: config.cookieSecure, sameSite: 'lax', path: '/' }) with the __Host- prefix";
    if (!sf) {
      this.add('SRV008-cookie-insecure', 'src/auth/sessions.ts', 'the session module is missing', 'restore src/auth/sessions.ts');
      return;
    }
    let calls = 0;
    let hostPrefix = false;
    this.walk(sf, (n) => {
      const s = this.str(n);
      if (s?.startsWith('__Host-')) hostPrefix = true;
      if (!this.ts.isCallExpression(n)) return;
      const name = this.calleeName(n);
      if (name !== 'serializeCookie' && name !== 'serialize' && name !== 'setCookie') return;
      const opts = n.arguments[2];
      if (!opts || !this.ts.isObjectLiteralExpression(opts)) {
        this.add('SRV008-cookie-insecure', this.at(n), 'session cookie options are not a literal object (cannot be verified)', fix);
        return;
      }
      calls++;
      const httpOnly = this.prop(opts, 'httpOnly');
      if (!httpOnly || httpOnly.kind !== this.ts.SyntaxKind.TrueKeyword) this.add('SRV008-cookie-insecure', this.at(opts), 'session cookie without httpOnly: true (scripts could read the token)', fix);
      const secure = this.prop(opts, 'secure');
      if (!secure || secure.kind === this.ts.SyntaxKind.FalseKeyword) this.add('SRV008-cookie-insecure', this.at(opts), 'session cookie without Secure', fix);
      const sameSite = this.prop(opts, 'sameSite');
      const ss = this.str(sameSite)?.toLowerCase();
      if (!(ss === 'lax' || ss === 'strict' || sameSite?.kind === this.ts.SyntaxKind.TrueKeyword)) this.add('SRV008-cookie-insecure', this.at(opts), `session cookie SameSite is ${ss ?? (sameSite ? sameSite.getText() : 'unset')}`, fix);
      if (this.str(this.prop(opts, 'path')) !== '/') this.add('SRV008-cookie-insecure', this.at(opts), 'session cookie Path is not / (the __Host- prefix requires it)', fix);
      if (this.prop(opts, 'domain')) this.add('SRV008-cookie-insecure', this.at(opts), 'session cookie sets Domain (the __Host- prefix forbids it: subdomains would receive the token)', fix);
    });
    if (calls === 0) this.add('SRV008-cookie-insecure', this.rel(file), 'no session cookie is set in src/auth/sessions.ts', fix);
    if (!hostPrefix) this.add('SRV008-cookie-insecure', this.rel(file), 'the session cookie name has no __Host- prefix', fix);
    // the Secure default (COOKIE_SECURE) in config
    const config = this.source(join(this.appDir, 'src', 'config.ts'));
    if (config) {
      this.walk(config, (n) => {
        if (this.ts.isCallExpression(n) && this.str(n.arguments[1]) === 'COOKIE_SECURE' && n.arguments[2]?.kind === this.ts.SyntaxKind.FalseKeyword) {
          this.add('SRV008-cookie-insecure', this.at(n), 'COOKIE_SECURE defaults to false', 'default COOKIE_SECURE to true (production refuses false)');
        }
      });
    }
  }

  // ------------------------------------------------------------------ passwords (I12)
  private passwords(): void {
    const file = join(this.appDir, 'src', 'config.ts');
    const sf = this.source(file);
    const fix = 'PASSWORD_MIN_FLOOR = 12 and PASSWORD_MIN_DEFAULT = 15 in src/config.ts, and loadConfig refuses a PASSWORD_MIN_LENGTH below the floor';
    if (!sf) {
      this.add('SRV009-password-min-too-low', 'src/config.ts', 'the config module is missing', fix);
      return;
    }
    const consts = new Map<string, { value: number | undefined; at: string }>();
    let floorEnforced = false;
    let defaultArg: { value: number | undefined; at: string } | undefined;
    this.walk(sf, (n) => {
      // the length settings only (PASSWORD_MIN_FLOOR, _DEFAULT, _LENGTH): a PASSWORD_MIN_SCORE is not a length
      if (this.ts.isVariableDeclaration(n) && this.ts.isIdentifier(n.name) && /^PASSWORD_MIN(_FLOOR|_DEFAULT|_LENGTH)?$/.test(n.name.text)) {
        consts.set(n.name.text, { value: this.num(n.initializer), at: this.at(n) });
      }
      if (this.ts.isBinaryExpression(n) && n.operatorToken.kind === this.ts.SyntaxKind.LessThanToken && /PASSWORD_MIN_FLOOR|\b1[2-9]\b/.test(n.right.getText()) && /passwordMin|minLength/i.test(n.left.getText())) floorEnforced = true;
      if (this.ts.isCallExpression(n) && this.str(n.arguments[1]) === 'PASSWORD_MIN_LENGTH' && n.arguments[2]) {
        const a = n.arguments[2];
        defaultArg = { value: this.ts.isIdentifier(a) ? consts.get(a.text)?.value : this.num(a), at: this.at(n) };
      }
    });
    const floor = consts.get('PASSWORD_MIN_FLOOR');
    if (!floor) this.add('SRV009-password-min-too-low', this.rel(file), 'PASSWORD_MIN_FLOOR is not defined', fix);
    for (const [name, c] of consts) {
      if (c.value !== undefined && c.value < 12) this.add('SRV009-password-min-too-low', c.at, `${name} is ${c.value}, below 12`, fix);
    }
    if (defaultArg && defaultArg.value !== undefined && defaultArg.value < 12) this.add('SRV009-password-min-too-low', defaultArg.at, `the default password minimum is ${defaultArg.value}, below 12`, fix);
    if (!floorEnforced) this.add('SRV009-password-min-too-low', this.rel(file), 'loadConfig does not refuse a password minimum below PASSWORD_MIN_FLOOR', fix);
  }

  // ------------------------------------------------------------------ deploy configs (I11)
  private deployHeaders(): void {
    const fix = 'regenerate them from src/security/headers.ts (npm run headers:write); never edit the headers by hand';
    const configs: Array<[string, Map<string, string> | undefined]> = [];
    const netlify = join(this.appDir, 'netlify.toml');
    if (existsSync(netlify)) {
      const headers = new Map<string, string>();
      for (const m of readFileSync(netlify, 'utf8').matchAll(/^\s*"?([A-Za-z][A-Za-z0-9-]*)"?\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/gm)) {
        headers.set(m[1]!.toLowerCase(), m[2]!.replace(/\\"/g, '"'));
      }
      configs.push(['netlify.toml', headers]);
    }
    const vercel = join(this.appDir, 'vercel.json');
    if (existsSync(vercel)) {
      let headers: Map<string, string> | undefined = new Map();
      try {
        const json = JSON.parse(readFileSync(vercel, 'utf8')) as { headers?: Array<{ source?: string; headers?: Array<{ key: string; value: string }> }> };
        const all = (json.headers ?? []).find((h) => h.source === '/(.*)' || h.source === '/:path*') ?? json.headers?.[0];
        for (const h of all?.headers ?? []) headers.set(String(h.key).toLowerCase(), String(h.value));
      } catch {
        headers = undefined;
      }
      configs.push(['vercel.json', headers]);
    }
    // none is fine: the server sends the headers itself (the app deploys as a container, see its Dockerfile)
    if (configs.length === 0) return;
    for (const [file, headers] of configs) {
      if (!headers) {
        this.add('SRV013-deploy-headers', file, 'cannot be parsed', fix);
        continue;
      }
      for (const problem of headerProblems(headers)) this.add('SRV013-deploy-headers', file, problem, fix);
    }
  }

  // ------------------------------------------------------------------ source scan (I2, I9)
  private sourceScan(): void {
    const src = join(this.appDir, 'src');
    const dbDir = join(src, 'db');
    const files = listSources(src);
    for (const dir of ['web', 'ui', 'client', 'frontend']) files.push(...listSources(join(this.appDir, dir)));
    for (const file of files) {
      const sf = this.source(file);
      if (!sf) continue;
      const inDb = file.startsWith(dbDir + '/') || file.startsWith(dbDir + '\\');
      this.walk(sf, (n) => {
        if (!inDb) {
          const s = this.str(n) ?? (this.ts.isTemplateExpression(n) ? n.getText() : undefined);
          if (s !== undefined && /(^|;)\s*set\s+(local\s+|session\s+)?role\b|\breset\s+role\b|\bset\s+session\s+authorization\b|\bset_config\s*\(/i.test(s)) {
            this.add('SRV011-privileged-db-access', this.at(n), 'switches the database role or identity outside src/db/ (only the request-scoped API of src/db/request.ts may)',
              'use request.withDb(...) (src/db/request.ts sets the role and identity per transaction)');
          }
          if (this.ts.isImportDeclaration(n) && !n.importClause?.isTypeOnly) {
            const spec = this.str(n.moduleSpecifier);
            if (spec === 'pg' || spec === '@electric-sql/pglite' || spec === 'postgres' || spec === 'pg-pool') {
              this.add('SRV011-privileged-db-access', this.at(n), `imports the database driver ${spec} outside src/db/ (a raw connection bypasses the request role)`,
                'use the request-scoped API (request.withDb) instead of a raw pool or client');
            }
          }
          if (this.ts.isNewExpression(n) && this.ts.isIdentifier(n.expression) && ['Pool', 'Client', 'PGlite'].includes(n.expression.text)) {
            this.add('SRV011-privileged-db-access', this.at(n), `new ${n.expression.text}(...) outside src/db/: a raw database handle`, 'use the request-scoped API (request.withDb)');
          }
        }
        if (this.ts.isCallExpression(n) && this.ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === 'setItem') {
          const target = n.expression.expression.getText();
          if (/localStorage|sessionStorage/.test(target) && /token|session|jwt|auth/i.test(n.arguments.map((a) => a.getText()).join(' '))) {
            this.add('SRV012-token-in-browser-storage', this.at(n), 'stores a token or session in web storage (readable by any script: XSS steals it)',
              'keep the session only in the __Host- httpOnly cookie');
          }
        }
      });
    }
  }
}

/** What is wrong with a set of response headers (lower-case names), per invariant I11. */
export function headerProblems(headers: Map<string, string>): string[] {
  const out: string[] = [];
  const csp = headers.get('content-security-policy');
  if (!csp) out.push('no Content-Security-Policy');
  else {
    const directives = new Map(
      csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map((d) => [d[0]!.toLowerCase(), d.slice(1)] as const),
    );
    const script = directives.get('script-src') ?? directives.get('default-src');
    if (!script) out.push('CSP without script-src or default-src');
    for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'http:', 'https:']) if (script?.includes(bad)) out.push(`CSP script-src allows ${bad}`);
    if ((directives.get('frame-ancestors') ?? []).join(' ') !== "'none'") out.push("CSP frame-ancestors is not 'none'");
  }
  const hsts = headers.get('strict-transport-security');
  const maxAge = Number(/max-age=(\d+)/i.exec(hsts ?? '')?.[1] ?? NaN);
  if (!hsts) out.push('no Strict-Transport-Security');
  else if (!(maxAge >= 31536000) || !/includesubdomains/i.test(hsts)) out.push(`Strict-Transport-Security "${hsts}" is below max-age=31536000; includeSubDomains`);
  if ((headers.get('x-content-type-options') ?? '').toLowerCase() !== 'nosniff') out.push('no X-Content-Type-Options: nosniff');
  if (!headers.get('referrer-policy')) out.push('no Referrer-Policy');
  return out;
}

function joinUrl(prefix: string, url: string): string {
  const joined = `${prefix.replace(/\/$/, '')}${url}`;
  return joined === '' ? '/' : joined;
}

function listSources(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) listSources(p, out);
    else if (/\.(m?ts|tsx|m?js|jsx)$/.test(entry) && !/\.d\.ts$/.test(entry)) out.push(p);
  }
  return out;
}
