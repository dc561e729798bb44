/**
 * The route inventory the server checks share, read from the app's source (syntax trees only):
 *   - src/server/app.ts: which scope (tagScope(instance, 'public' | 'protected' | 'admin')) every route
 *     and route module is registered in, the guard hooks of the scope functions, the root instance's hooks;
 *   - route modules (followed through their imports): every route's method and URL;
 *   - src/server/public-routes.ts: the one public list.
 * It reports nothing itself: ./scopes.ts, ./rate-limits.ts, ./headers.ts, ./csrf.ts,
 * ./route-namespaces.ts and ./mfa-step.ts judge what it found.
 */
import { join } from 'node:path';
import type * as TS from 'typescript';
import type { Syntax } from '../syntax.js';

export type Scope = 'public' | 'protected' | 'admin' | 'root';

const ROUTE_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'all']);

export interface Route {
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

export interface RegisteredModule {
  /** the module file (absolute) */
  module: string;
  scope: Scope;
  /** file:line of the register call */
  at: string;
}

export interface Inventory {
  /** the server module (absolute): the file of src/server/ that tags the scopes, else app.ts */
  appFile: string;
  /** every route found */
  routes: Route[];
  /** the route modules registered from the server module */
  modules: RegisteredModule[];
  /** the first function tagging each scope */
  scopeFns: Partial<Record<Scope, TS.FunctionLikeDeclaration>>;
  /** the source of the protected scope's guard hooks (none without a protected scope) */
  protectedHooks: string[];
  /** src/server/public-routes.ts as read ("METHOD /url") */
  publicList: Set<string>;
  /** hooks on the root instance (they apply to every route) */
  rootHooks: Array<{ name: string; text: string }>;
  /** SECURITY_HEADERS and the constants of the server module holding it */
  headerNames: Set<string>;
}

/** The inventory, or undefined when the server module is missing. */
export function readInventory(syntax: Syntax): Inventory | undefined {
  const ts = syntax.ts;
  const serverDir = join(syntax.appDir, 'src', 'server');
  const candidates = syntax.list(serverDir).filter((f) => f.endsWith('.ts')).map((f) => join(serverDir, f));
  const appFile = candidates.find((f) => /\btagScope\s*\(/.test(syntax.read(f) ?? '') && !f.endsWith('scopes.ts')) ?? join(serverDir, 'app.ts');
  const sf = syntax.file(appFile);
  if (!sf) return undefined;
  const imports = syntax.imports(sf);
  const routes: Route[] = [];
  const scopeFns: Partial<Record<Scope, TS.FunctionLikeDeclaration>> = {};
  const modules: RegisteredModule[] = [];

  syntax.walk(sf, (n) => {
    if (ts.isArrowFunction(n) || ts.isFunctionExpression(n)) {
      const s = taggedScope(syntax, n);
      if (s && !scopeFns[s]) scopeFns[s] = n;
    }
    if (!ts.isCallExpression(n) || !ts.isPropertyAccessExpression(n.expression)) return;
    const name = n.expression.name.text;
    if (name === 'register') {
      const plugin = n.arguments[0];
      if (plugin && ts.isIdentifier(plugin) && imports.has(plugin.text)) {
        const scope = scopeOf(syntax, n);
        const module = imports.get(plugin.text)!;
        modules.push({ module, scope, at: syntax.at(n) });
        routes.push(...moduleRoutes(syntax, module, plugin.text, scope, prefixOf(syntax, n.arguments[1]), new Set()));
      }
    } else {
      const route = routeCall(syntax, n);
      if (route) routes.push({ ...route, url: joinUrl('', route.url), scope: scopeOf(syntax, n), module: syntax.rel(appFile) });
    }
  });

  const rootHooks: Array<{ name: string; text: string }> = [];
  const headerNames = new Set(['SECURITY_HEADERS']);
  syntax.walk(sf, (n) => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer && /\bSECURITY_HEADERS\b/.test(n.initializer.getText())) headerNames.add(n.name.text);
    if (ts.isCallExpression(n) && syntax.calleeName(n) === 'addHook' && scopeOf(syntax, n) === 'root') {
      rootHooks.push({ name: syntax.str(n.arguments[0]) ?? '?', text: n.arguments.slice(1).map((a) => a.getText()).join(' ') });
    }
  });

  const protectedFn = scopeFns.protected;
  return {
    appFile,
    routes,
    modules,
    scopeFns,
    protectedHooks: protectedFn ? guardHooks(syntax, protectedFn) : [],
    publicList: publicList(syntax),
    rootHooks,
    headerNames,
  };
}

/** The hooks (addHook('onRequest' | 'preHandler' | ...)) registered on a scope function's instance. */
export function guardHooks(syntax: Syntax, fn: TS.FunctionLikeDeclaration): string[] {
  return scopeHooks(syntax, fn, ['onRequest', 'preParsing', 'preValidation', 'preHandler']).map((hook) => hook.getText());
}

/**
 * The hook functions (the second argument of addHook(name, ...), for the given names) registered on
 * a scope function's own instance: not those of a scope registered inside it.
 */
export function scopeHooks(syntax: Syntax, fn: TS.FunctionLikeDeclaration, names: string[]): TS.Expression[] {
  const ts = syntax.ts;
  const hooks: TS.Expression[] = [];
  const visit = (n: TS.Node): void => {
    if (n !== fn && (ts.isArrowFunction(n) || ts.isFunctionExpression(n)) && ts.isCallExpression(n.parent) && syntax.calleeName(n.parent) === 'register') return;
    if (ts.isCallExpression(n) && syntax.calleeName(n) === 'addHook') {
      const hook = syntax.str(n.arguments[0]);
      if (hook && names.includes(hook) && n.arguments[1]) hooks.push(n.arguments[1]);
    }
    n.forEachChild(visit);
  };
  fn.body?.forEachChild(visit);
  return hooks;
}

/** The enclosing function nodes of a node, innermost first. */
function functionsAround(syntax: Syntax, node: TS.Node): TS.FunctionLikeDeclaration[] {
  const ts = syntax.ts;
  const out: TS.FunctionLikeDeclaration[] = [];
  for (let n: TS.Node | undefined = node.parent; n; n = n.parent) {
    if (ts.isArrowFunction(n) || ts.isFunctionExpression(n) || ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) out.push(n);
  }
  return out;
}

/** The scope a function tags its first parameter with (tagScope(param, 'x')), if any. */
function taggedScope(syntax: Syntax, fn: TS.FunctionLikeDeclaration): Scope | undefined {
  const ts = syntax.ts;
  const param = fn.parameters[0];
  if (!param || !ts.isIdentifier(param.name) || !fn.body) return undefined;
  const name = param.name.text;
  let scope: Scope | undefined;
  const visit = (n: TS.Node): void => {
    if (scope) return;
    if (n !== fn && (ts.isArrowFunction(n) || ts.isFunctionExpression(n))) return; // not nested scopes
    if (ts.isCallExpression(n) && syntax.calleeName(n) === 'tagScope') {
      const [target, value] = n.arguments;
      const v = syntax.str(value);
      if (target && ts.isIdentifier(target) && target.text === name && (v === 'public' || v === 'protected' || v === 'admin')) scope = v;
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
function scopeOf(syntax: Syntax, call: TS.CallExpression): Scope {
  const ts = syntax.ts;
  const callee = call.expression;
  if (!ts.isPropertyAccessExpression(callee)) return 'root';
  let receiver: TS.Expression = callee.expression;
  while (ts.isParenthesizedExpression(receiver) || ts.isNonNullExpression(receiver)) receiver = receiver.expression;
  if (!ts.isIdentifier(receiver)) return 'root';
  const name = receiver.text;
  const fn = functionsAround(syntax, call).find((f) => f.parameters.some((p) => ts.isIdentifier(p.name) && p.name.text === name));
  if (!fn) return 'root';
  const tagged = taggedScope(syntax, fn);
  if (tagged) return tagged;
  const parent = fn.parent;
  if (parent && ts.isCallExpression(parent) && syntax.calleeName(parent) === 'register') return scopeOf(syntax, parent);
  return 'root';
}

function prefixOf(syntax: Syntax, options: TS.Expression | undefined): string {
  if (options && syntax.ts.isObjectLiteralExpression(options)) return syntax.str(syntax.prop(options, 'prefix')) ?? '';
  return '';
}

function joinUrl(prefix: string, url: string): string {
  const joined = `${prefix.replace(/\/$/, '')}${url}`;
  return joined === '' ? '/' : joined;
}

/** A route definition call (instance.get('/x', ...) or instance.route({ method, url })), its URL without a prefix. */
function routeCall(syntax: Syntax, n: TS.CallExpression): Omit<Route, 'scope' | 'module'> | undefined {
  const ts = syntax.ts;
  if (!ts.isPropertyAccessExpression(n.expression)) return undefined;
  const name = n.expression.name.text;
  const handler = n.arguments.length ? n.arguments[n.arguments.length - 1]!.getText() : '';
  if (ROUTE_METHODS.has(name)) {
    const url = syntax.str(n.arguments[0]) ?? templateUrl(syntax, n.arguments[0]);
    if (url === undefined || !url.startsWith('/')) return undefined;
    return { method: name === 'all' ? 'ALL' : name.toUpperCase(), url, at: syntax.at(n), handler };
  }
  if (name === 'route' && n.arguments[0] && ts.isObjectLiteralExpression(n.arguments[0])) {
    const o = n.arguments[0];
    const url = syntax.str(syntax.prop(o, 'url')) ?? syntax.str(syntax.prop(o, 'path'));
    const m = syntax.prop(o, 'method');
    const method = syntax.str(m) ?? (m && ts.isArrayLiteralExpression(m) ? m.elements.map((e) => syntax.str(e)).join(',') : undefined);
    if (url === undefined || method === undefined) return undefined;
    return { method: method.toUpperCase(), url, at: syntax.at(n), handler: o.getText() };
  }
  return undefined;
}

/** A template URL built from the module's constants (`/${TABLE}/:id` with const TABLE = 'records'). */
function templateUrl(syntax: Syntax, node: TS.Expression | undefined): string | undefined {
  if (!node || !syntax.ts.isTemplateExpression(node)) return undefined;
  const value = syntax.evaluate(node, syntax.constants(node.getSourceFile()));
  return typeof value === 'string' ? value : undefined;
}

/** What a plugin of a module defines, in order: its routes (URLs without a prefix) and the plugins it registers. */
type PluginItem =
  | { route: Omit<Route, 'scope' | 'module'> }
  | { register: { file: string; name: string; prefix: string } };

/** Routes of an exported plugin in a module (and the modules it registers), all in one scope. */
function moduleRoutes(syntax: Syntax, file: string, exportName: string, scope: Scope, prefix: string, seen: Set<string>): Route[] {
  const key = `${file}#${exportName}`;
  if (seen.has(key)) return [];
  seen.add(key);
  const routes: Route[] = [];
  // one module's plugin, read from that module alone (and which of its imports exist): kept between
  // checks under those inputs, so a check after an edit elsewhere does not parse it again
  for (const item of syntax.persisted(`plugin:${syntax.rel(file)}#${exportName}`, () => pluginItems(syntax, file, exportName))) {
    if ('route' in item) routes.push({ ...item.route, url: joinUrl(prefix, item.route.url), scope, module: syntax.rel(file) });
    else routes.push(...moduleRoutes(syntax, join(syntax.appDir, item.register.file), item.register.name, scope, joinUrl(prefix, item.register.prefix), seen));
  }
  return routes;
}

function pluginItems(syntax: Syntax, file: string, exportName: string): PluginItem[] {
  const ts = syntax.ts;
  const sf = syntax.file(file);
  if (!sf) return [];
  const imports = syntax.imports(sf);
  let body: TS.Node | undefined;
  syntax.walk(sf, (n) => {
    if (body) return;
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === exportName && n.initializer) body = n.initializer;
    if (ts.isFunctionDeclaration(n) && n.name?.text === exportName) body = n;
  });
  if (!body) {
    // a default export (import name differs), else the whole module
    for (const st of sf.statements) {
      if (ts.isExportAssignment(st)) body = st.expression;
      if (ts.isFunctionDeclaration(st) && st.modifiers?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword)) body = st;
    }
  }
  if (!body) body = sf;
  const items: PluginItem[] = [];
  syntax.walk(body, (n) => {
    if (!ts.isCallExpression(n) || !ts.isPropertyAccessExpression(n.expression)) return;
    if (n.expression.name.text === 'register') {
      const plugin = n.arguments[0];
      if (plugin && ts.isIdentifier(plugin)) {
        // follow the app's own plugins (relative imports or declared in this file), not libraries
        const target = imports.get(plugin.text) ?? (declares(syntax, sf, plugin.text) ? file : undefined);
        if (target) items.push({ register: { file: syntax.rel(target), name: plugin.text, prefix: prefixOf(syntax, n.arguments[1]) } });
      }
      return;
    }
    const r = routeCall(syntax, n);
    if (r) items.push({ route: r });
  });
  return items;
}

function declares(syntax: Syntax, sf: TS.SourceFile, name: string): boolean {
  const ts = syntax.ts;
  let found = false;
  syntax.walk(sf, (n) => {
    if ((ts.isVariableDeclaration(n) || ts.isFunctionDeclaration(n)) && n.name && ts.isIdentifier(n.name) && n.name.text === name) found = true;
  });
  return found;
}

function publicList(syntax: Syntax): Set<string> {
  return new Set(syntax.persisted('public-list', () => [...readPublicList(syntax)]));
}

function readPublicList(syntax: Syntax): Set<string> {
  const ts = syntax.ts;
  const sf = syntax.file(join(syntax.appDir, 'src', 'server', 'public-routes.ts'));
  const out = new Set<string>();
  if (!sf) return out;
  syntax.walk(sf, (n) => {
    if (ts.isVariableDeclaration(n) && n.initializer) {
      let init: TS.Node = n.initializer;
      while (ts.isAsExpression(init) || ts.isSatisfiesExpression(init) || ts.isParenthesizedExpression(init)) init = init.expression;
      if (ts.isArrayLiteralExpression(init)) {
        for (const e of init.elements) {
          const s = syntax.str(e);
          if (s && /^[A-Z]+ \//.test(s)) out.add(s.replace(/\s+/g, ' ').trim());
        }
      }
    }
  });
  return out;
}
