/**
 * SRV014 of `xms check` (invariant I10): cross-site state-changing requests are refused before every
 * route. Input: the root hooks of ./routes.ts and the guard module src/security/csrf.ts, read from
 * their syntax trees:
 *   - the root instance registers `app.addHook('onRequest', csrfHook(config.origin))` as it is: the
 *     guard of src/security/csrf.ts for the configured origin, not wrapped (a wrapper that skips it
 *     for some paths, or hands it another origin, keeps the word "csrf" and refuses nothing there);
 *   - SAFE_METHODS, the methods let through without a look at the origin, holds no more than GET,
 *     HEAD and OPTIONS;
 *   - the function csrfHook returns lets a request on (done()) only under
 *     `SAFE_METHODS.has(<request>.method) || isSameOrigin(<request>, <its origin parameter>)`, never
 *     hands done on (setImmediate(done) would let every request on), and answers 403 otherwise;
 *   - isSameOrigin answers only `false`, the request's Origin === the configured origin (the request's
 *     own without one), or Sec-Fetch-Site === 'same-origin' (sameOriginProblem below).
 */
import { join } from 'node:path';
import type TS from 'typescript';
import { finding, squeezed, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';
import type { Inventory } from './routes.js';

const ID = 'SRV014-csrf-unguarded';
const MODULE = join('src', 'security', 'csrf.ts');
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function checkCsrf(syntax: Syntax, inventory: Inventory): Finding[] {
  const hooks = inventory.rootHooks.filter((h) => ['onRequest', 'preHandler', 'preValidation'].includes(h.name));
  if (!hooks.some((h) => /csrf/i.test(h.text))) {
    return [
      finding(ID, syntax.rel(inventory.appFile), 'no onRequest hook on the root instance refuses cross-site state-changing requests (csrfHook)',
        "restore app.addHook('onRequest', csrfHook(config.origin)) in src/server/app.ts"),
    ];
  }
  const out: Finding[] = [];
  const sf = syntax.file(inventory.appFile);
  const imported = sf ? syntax.imports(sf).get('csrfHook') : undefined;
  if (!hooks.some((h) => h.name === 'onRequest' && /^csrfHook\(\s*config\.origin\s*\)$/.test(h.text)) || !imported?.endsWith(MODULE)) {
    const found = hooks.find((h) => /csrf/i.test(h.text))!;
    out.push(finding(ID, syntax.rel(inventory.appFile), `the root instance's CSRF hook is \`${found.text.split('\n')[0]}\`, not csrfHook(config.origin) of src/security/csrf.ts as it is: it may let cross-site requests through`,
      "register the guard as it is: app.addHook('onRequest', csrfHook(config.origin)), csrfHook imported from '../security/csrf.js'"));
  }
  const problem = guardModuleProblem(syntax, join(syntax.appDir, MODULE));
  if (problem) out.push(finding(ID, MODULE, problem, 'restore src/security/csrf.ts from the template'));
  return out;
}

/** Why src/security/csrf.ts may let a cross-site state-changing request through, if it may. */
function guardModuleProblem(syntax: Syntax, file: string): string | undefined {
  const ts = syntax.ts;
  const sf = syntax.file(file);
  if (!sf) return 'src/security/csrf.ts is missing';
  // SAFE_METHODS
  const safe = syntax.constant(sf, 'SAFE_METHODS')?.initializer;
  const list = safe && ts.isNewExpression(safe) && safe.expression.getText() === 'Set' ? safe.arguments?.[0] : undefined;
  if (!list || !ts.isArrayLiteralExpression(list)) return 'SAFE_METHODS is not a new Set([...]) of method names';
  for (const el of list.elements) {
    const method = syntax.str(el);
    if (method === undefined || !SAFE.has(method)) return `SAFE_METHODS lets \`${el.getText()}\` through without a look at the origin (only GET, HEAD and OPTIONS may be)`;
  }
  const fn = (name: string) => sf.statements.find((st): st is TS.FunctionDeclaration => ts.isFunctionDeclaration(st) && st.name?.text === name);
  // csrfHook: the returned guard
  const hook = fn('csrfHook');
  const origin = hook?.parameters[0]?.name;
  const guard = hook?.body && syntax.all(hook.body, ts.isReturnStatement).map((r) => r.expression).find((e): e is TS.FunctionExpression | TS.ArrowFunction => !!e && (ts.isFunctionExpression(e) || ts.isArrowFunction(e)));
  const request = guard?.parameters[0]?.name;
  if (!guard || !origin || !ts.isIdentifier(origin) || !request || !ts.isIdentifier(request)) return 'csrfHook does not return a guard function of (request, reply, done)';
  const expected = `SAFE_METHODS.has(${request.text}.method) || isSameOrigin(${request.text}, ${origin.text})`;
  const done = guard.parameters[2]?.name;
  if (!done || !ts.isIdentifier(done)) return 'csrfHook does not return a guard function of (request, reply, done)';
  const uses = syntax.all(guard.body, ts.isIdentifier).filter((id) => id.text === done.text);
  const handedOn = uses.find((id) => !(ts.isCallExpression(id.parent) && id.parent.expression === id));
  if (handedOn) return `csrfHook's guard hands its done callback on (\`${handedOn.parent.getText().split('\n')[0]}\`) instead of calling it where it decides`;
  for (const call of uses.map((id) => id.parent as TS.CallExpression)) {
    if (call.arguments.length > 0) continue; // done(error): the request fails
    const condition = conditionOf(syntax, call, guard);
    if (condition?.replace(/\s+/g, ' ') !== expected) {
      return `csrfHook's guard lets a request on ${condition ? `under \`${condition}\`` : 'unconditionally'}, not only under \`${expected}\``;
    }
  }
  const refuses = syntax.all(guard, ts.isCallExpression).some((c) => ts.isPropertyAccessExpression(c.expression) && c.expression.name.text === 'code' && c.arguments[0]?.getText() === '403');
  if (!refuses) {
    return "csrfHook's guard never answers 403";
  }
  return sameOriginProblem(syntax, fn('isSameOrigin'));
}

/**
 * Why isSameOrigin(request, configuredOrigin) may call a cross-site request same-origin, if it may.
 * It may answer only:
 *   - false;
 *   - `<origin> === <expected>` (either order), two consts of the function given exactly
 *     `<request>.headers.origin` and `<configuredOrigin> ?? \`${<request>.protocol}://${<request>.host}\``;
 *   - `<request>.headers['sec-fetch-site'] === 'same-origin'`.
 * A comparison of anything else can be true whatever the request says: `origin === origin`, an
 * expected origin that falls back to the request's own Origin, two literals.
 */
function sameOriginProblem(syntax: Syntax, same: TS.FunctionDeclaration | undefined): string | undefined {
  const ts = syntax.ts;
  if (!same?.body) return 'isSameOrigin is missing';
  const [request, configured] = same.parameters.map((p) => p.name);
  if (!request || !ts.isIdentifier(request) || !configured || !ts.isIdentifier(configured)) return 'isSameOrigin is not a function of (request, configuredOrigin)';
  const squeeze = (text: string) => squeezed(text).replace(/"/g, "'");
  const r = request.text;
  // What a name in a return is given: a const of the function declared once in it (no other
  // declaration of the name anywhere in it, so nothing shadows it), in a block that holds the return.
  // A let or var may be given anything later.
  const declarations = new Map<string, TS.Node[]>();
  for (const d of [...syntax.all(same.body, ts.isVariableDeclaration), ...syntax.all(same.body, ts.isParameter)]) {
    if (ts.isIdentifier(d.name)) declarations.set(d.name.text, [...(declarations.get(d.name.text) ?? []), d]);
  }
  const givenIn = (name: TS.Identifier, ret: TS.ReturnStatement): string | undefined => {
    const [d, ...others] = declarations.get(name.text) ?? [];
    if (!d || others.length || !ts.isVariableDeclaration(d) || !d.initializer || !(d.parent.flags & ts.NodeFlags.Const)) return undefined;
    const scope = d.parent.parent.parent; // declaration -> list -> statement -> block
    return ret.getStart() >= scope.getStart() && ret.getEnd() <= scope.getEnd() && d.getEnd() <= ret.getStart() ? squeeze(d.initializer.getText()) : undefined;
  };
  const ORIGIN = squeeze(`${r}.headers.origin`);
  const EXPECTED = squeeze(`${configured.text} ?? \`\${${r}.protocol}://\${${r}.host}\``);
  const FETCH_SITE = [squeeze(`${r}.headers['sec-fetch-site']`), "'same-origin'"].sort().join(' === ');
  const decides = (e: TS.Expression, ret: TS.ReturnStatement): boolean => {
    if (e.kind === ts.SyntaxKind.FalseKeyword) return true;
    if (!ts.isBinaryExpression(e) || e.operatorToken.kind !== ts.SyntaxKind.EqualsEqualsEqualsToken) return false;
    const sides = [syntax.bare(e.left), syntax.bare(e.right)];
    if (sides.map((side) => squeeze(side.getText())).sort().join(' === ') === FETCH_SITE) return true;
    const given = sides.map((side) => (ts.isIdentifier(side) ? givenIn(side, ret) : undefined));
    return [given.join(' === '), [...given].reverse().join(' === ')].includes(`${ORIGIN} === ${EXPECTED}`);
  };
  for (const ret of syntax.all(same.body, ts.isReturnStatement)) {
    const e = ret.expression && syntax.bare(ret.expression);
    if (!e || !decides(e, ret)) {
      return `isSameOrigin answers \`${ret.getText()}\`: it may answer only false, origin === expected (const origin = ${r}.headers.origin; const expected = ${configured.text} ?? \`\${${r}.protocol}://\${${r}.host}\`, each declared once) or ${r}.headers['sec-fetch-site'] === 'same-origin': anything else can call a cross-site request same-origin`;
    }
  }
  return undefined;
}

/** The condition of the nearest if statement of `fn` whose then-branch holds `node`, as text. */
function conditionOf(syntax: Syntax, node: TS.Node, fn: TS.Node): string | undefined {
  const ts = syntax.ts;
  for (let n: TS.Node = node; n !== fn; n = n.parent) {
    const parent = n.parent;
    if (ts.isIfStatement(parent) && parent.thenStatement === n) return parent.expression.getText();
    if (ts.isIfStatement(parent) && parent.elseStatement === n) return `!(${parent.expression.getText()})`;
    if (ts.isConditionalExpression(parent) && parent.whenTrue === n) return parent.condition.getText();
    if (ts.isConditionalExpression(parent) && parent.whenFalse === n) return `!(${parent.condition.getText()})`;
  }
  return undefined;
}
