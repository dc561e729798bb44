/**
 * The guards of the protected and admin scopes, read from their hooks' syntax trees: the second half
 * of SRV004, SRV003 and SRV019's enrol-only check (invariants I1, I2, I9), beside their text checks
 * (./scopes.ts, ./mfa-step.ts), which only ask that some hook mentions a session and 401, admin, role
 * and 403, or enrolOnly and 403. These catch an edit that keeps those words but lets requests through.
 *
 * SRV004: the session the protected scope hands its handlers is one the session check vouched for.
 * `request.session` is followed back to where its value came from, which catches, e.g.:
 *   - a branch that makes the session up, or takes it from the request, instead of checking it
 *     (a session-only route's `session = await checkSession(...)` replaced);
 *   - a fallback (`opened?.session ?? ...`), or a guard that lets some requests by (`if (!session && ...)`).
 * What the protected scope's onRequest hook must hold, read from its syntax tree:
 *   - `request.session = <v>` is a statement of the hook's body, and <v> a variable of the hook;
 *   - every value <v> is given comes from `await checkSession(...)`, or is `.session` of a variable of
 *     the hook given only `await openSession(...)`; both imported from src/auth/sessions.ts (whose
 *     calls hand the database's session check the configured idle lifetime: SRV015);
 *   - before it, a statement `if (!<v>) ... return ...401...`, and no value given to <v> after that;
 *   - no return before it that does not refuse the request (an early `if (...) return;` would let a
 *     request reach its handler with no session checked at all).
 */
import type TS from 'typescript';
import type { Syntax } from '../syntax.js';
import { scopeHooks } from './routes.js';

/** The session checks a hook may take its session from, by the name src/auth/sessions.ts exports. */
const SESSION_CHECKS = new Set(['checkSession', 'openSession']);

/** The names the protected hooks may call the session checks by: local name -> exported name. */
function sessionCheckImports(syntax: Syntax, sf: TS.SourceFile): Map<string, string> {
  const ts = syntax.ts;
  const out = new Map<string, string>();
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || st.importClause?.isTypeOnly) continue;
    const spec = syntax.str(st.moduleSpecifier);
    if (!spec || !/(^|\/)auth\/sessions(\.js|\.ts)?$/.test(spec)) continue;
    const named = st.importClause?.namedBindings;
    if (!named || !ts.isNamedImports(named)) continue;
    for (const el of named.elements) {
      const exported = (el.propertyName ?? el.name).text;
      if (!el.isTypeOnly && SESSION_CHECKS.has(exported)) out.set(el.name.text, exported);
    }
  }
  return out;
}

/** The onRequest hook functions of a scope's own instance (./routes.ts). */
function onRequestHooks(syntax: Syntax, scopeFn: TS.FunctionLikeDeclaration): Array<TS.ArrowFunction | TS.FunctionExpression> {
  const ts = syntax.ts;
  return scopeHooks(syntax, scopeFn, ['onRequest']).filter((fn): fn is TS.ArrowFunction | TS.FunctionExpression => ts.isArrowFunction(fn) || ts.isFunctionExpression(fn));
}

interface Write {
  node: TS.Node;
  /** undefined: declared without a value */
  value: TS.Expression | undefined;
}

/** Every value given to the variable `name` in `body` (its declaration, =, and compound assignments). */
function writesOf(syntax: Syntax, body: TS.Node, name: string): { declared: boolean; writes: Write[] } {
  const ts = syntax.ts;
  let declared = false;
  const writes: Write[] = [];
  syntax.walk(body, (n) => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === name) {
      declared = true;
      writes.push({ node: n, value: n.initializer });
    } else if (ts.isBinaryExpression(n) && ts.isIdentifier(syntax.bare(n.left)) && (syntax.bare(n.left) as TS.Identifier).text === name) {
      const op = n.operatorToken.kind;
      if (op === ts.SyntaxKind.EqualsToken) writes.push({ node: n, value: n.right });
      else if (op >= ts.SyntaxKind.FirstAssignment && op <= ts.SyntaxKind.LastAssignment) writes.push({ node: n, value: n }); // ??=, ||=, ...: never vouched for
    } else if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken)
      && ts.isIdentifier(n.operand) && n.operand.text === name) {
      writes.push({ node: n, value: n as unknown as TS.Expression });
    }
  });
  return { declared, writes };
}

/** Whether `value` is `await <check>(...)`, <check> being the session check `allowed` exports as. */
function awaitedCheck(syntax: Syntax, value: TS.Expression, checks: Map<string, string>, allowed: string): boolean {
  const ts = syntax.ts;
  const e = syntax.bare(value);
  if (!ts.isAwaitExpression(e)) return false;
  const call = syntax.bare(e.expression);
  return ts.isCallExpression(call) && ts.isIdentifier(call.expression) && checks.get(call.expression.text) === allowed;
}

/**
 * Why the protected scope's session hook may hand a handler a session no check vouched for, or
 * undefined when it cannot (see the top of this file).
 */
export function sessionGuardProblem(syntax: Syntax, protectedFn: TS.FunctionLikeDeclaration): string | undefined {
  const ts = syntax.ts;
  const checks = sessionCheckImports(syntax, protectedFn.getSourceFile());
  for (const hook of onRequestHooks(syntax, protectedFn)) {
    const request = hook.parameters[0]?.name;
    const body = hook.body;
    if (!request || !ts.isIdentifier(request) || !body || !ts.isBlock(body)) continue;
    // request.session = ... anywhere in this hook
    const sets = syntax.all(body, (n): n is TS.BinaryExpression =>
      ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isPropertyAccessExpression(n.left)
      && ts.isIdentifier(n.left.expression) && n.left.expression.text === request.text && n.left.name.text === 'session');
    if (!sets.length) continue;
    for (const set of sets) {
      const statement = set.parent;
      if (!ts.isExpressionStatement(statement) || statement.parent !== body) {
        return `${request.text}.session is set inside a condition or expression of the session hook, not as a statement of its own`;
      }
      const source = syntax.bare(set.right);
      if (!ts.isIdentifier(source)) return `${request.text}.session is set to \`${set.right.getText()}\`, not to the session the check returned`;
      const name = source.text;
      const { declared, writes } = writesOf(syntax, body, name);
      if (!declared) return `${request.text}.session is set from \`${name}\`, which is not a variable of the session hook`;
      const index = body.statements.indexOf(statement);
      const guard = body.statements.slice(0, index).find((st) => {
        if (!ts.isIfStatement(st)) return false;
        const cond = syntax.bare(st.expression);
        return ts.isPrefixUnaryExpression(cond) && cond.operator === ts.SyntaxKind.ExclamationToken && ts.isIdentifier(syntax.bare(cond.operand))
          && (syntax.bare(cond.operand) as TS.Identifier).text === name && syntax.all(st.thenStatement, ts.isReturnStatement).some((r) => /\b401\b/.test(r.getText()));
      });
      if (!guard) return `no \`if (!${name}) return ...401...\` comes before \`${request.text}.session = ${name}\`: a request without a live session could reach the handlers`;
      const early = escapingReturn(syntax, body.statements.slice(0, index));
      if (early) return `the session hook can return before it sets ${request.text}.session without refusing the request: \`${firstLine(early)}\``;
      for (const write of writes) {
        if (write.node.getStart() > guard.getStart()) return `\`${name}\` is given a value after the 401 guard (\`${write.node.getText()}\`)`;
        if (write.value === undefined) continue;
        const value = syntax.bare(write.value);
        if (ts.isIdentifier(value) && value.text === 'undefined') continue;
        if (awaitedCheck(syntax, value, checks, 'checkSession')) continue;
        // `opened?.session` / `opened.session`, opened being given only `await openSession(...)`
        if (ts.isPropertyAccessExpression(value) && value.name.text === 'session' && ts.isIdentifier(value.expression)) {
          const holder = writesOf(syntax, body, value.expression.text);
          if (holder.declared && holder.writes.length > 0 && holder.writes.every((w) => w.node.getStart() < guard.getStart()
            && (w.value === undefined || awaitedCheck(syntax, w.value, checks, 'openSession')))) continue;
        }
        return `\`${name}\` is given \`${write.value.getText()}\`: a session must come from checkSession() or openSession() of src/auth/sessions.ts`;
      }
    }
    return undefined; // every request.session = ... of this hook holds
  }
  return 'no onRequest hook of the protected scope sets request.session from the session check';
}

/** A return that answers with a client error (reply.code(4xx)...): it refuses the request. */
const REFUSAL = /\.code\(\s*4\d\d\s*\)/;

/**
 * The first return statement of `statements` (one inside a nested function does not count) that is
 * not a refusal: returning from an onRequest hook without answering lets the request go on to its
 * handler, past every check that comes later in the hook.
 */
function escapingReturn(syntax: Syntax, statements: readonly TS.Statement[]): TS.ReturnStatement | undefined {
  const ts = syntax.ts;
  let found: TS.ReturnStatement | undefined;
  const visit = (n: TS.Node): void => {
    if (found || ts.isFunctionLike(n)) return;
    if (ts.isReturnStatement(n) && !REFUSAL.test(n.getText())) found = n;
    else n.forEachChild(visit);
  };
  for (const st of statements) visit(st);
  return found;
}

const firstLine = (node: TS.Node) => node.getText().split('\n')[0];

/** `<request>.session.role` or `<request>.session?.role`. */
function isSessionRole(syntax: Syntax, node: TS.Expression, request: string): boolean {
  const ts = syntax.ts;
  const role = syntax.bare(node);
  if (!ts.isPropertyAccessExpression(role) || role.name.text !== 'role') return false;
  const session = syntax.bare(role.expression);
  return ts.isPropertyAccessExpression(session) && session.name.text === 'session' && ts.isIdentifier(session.expression) && session.expression.text === request;
}

/** What an if statement guarding a scope's onRequest hook looks like (see guardStatementProblem). */
interface GuardShape {
  /** the guard, as findings name it ("the admin scope's role check") */
  name: string;
  /** whether the condition is the guard's whole condition, for the hook's request parameter */
  isCondition: (condition: TS.Expression, request: string) => boolean;
  /** an if whose condition matches all of these is the guard, weakened, when isCondition says no */
  looksLike: RegExp[];
  /** the condition as it should read, for the request parameter */
  expected: (request: string) => string;
  /** the finding when no hook has the guard at all */
  missing: string;
}

/**
 * Some onRequest hook of the scope has, as a statement of its body, `if (<the guard's condition>)
 * ... return ...403...`, with nothing added to the condition, and no return before it that does not
 * refuse the request (an early `if (...) return;` would skip it). Undefined when one does; else why not.
 */
function guardStatementProblem(syntax: Syntax, scopeFn: TS.FunctionLikeDeclaration, shape: GuardShape): string | undefined {
  const ts = syntax.ts;
  let why = shape.missing;
  for (const hook of onRequestHooks(syntax, scopeFn)) {
    const request = hook.parameters[0]?.name;
    if (!request || !ts.isIdentifier(request) || !ts.isBlock(hook.body)) continue;
    const statements = hook.body.statements;
    const index = statements.findIndex((st) => ts.isIfStatement(st) && shape.isCondition(syntax.bare(st.expression), request.text)
      && syntax.all(st.thenStatement, ts.isReturnStatement).some((r) => /\b403\b/.test(r.getText())));
    if (index < 0) {
      const weakened = statements.find((st): st is TS.IfStatement => ts.isIfStatement(st) && shape.looksLike.every((re) => re.test(st.expression.getText())));
      if (weakened) why = `${shape.name} is \`if (${weakened.expression.getText()})\`, not \`if (${shape.expected(request.text)})\` alone: it lets some requests through that it should refuse`;
      continue;
    }
    const early = escapingReturn(syntax, statements.slice(0, index));
    if (early) return `the hook can return before ${shape.name} without refusing the request: \`${firstLine(early)}\``;
    return undefined;
  }
  return why;
}

/**
 * The second half of SRV003 (invariant I2), beside its text check (./scopes.ts): the admin scope's
 * hook refuses (403) every session whose role is not admin, by `if (<request>.session?.role !==
 * 'admin')` and nothing added to it (an added `&& !request.headers[...]` lets a member through), with
 * no return before it that lets the request on.
 */
export function adminGuardProblem(syntax: Syntax, adminFn: TS.FunctionLikeDeclaration): string | undefined {
  const ts = syntax.ts;
  return guardStatementProblem(syntax, adminFn, {
    name: "the admin scope's role check",
    isCondition: (cond, request) => {
      if (!ts.isBinaryExpression(cond) || ![ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken].includes(cond.operatorToken.kind)) return false;
      const [left, right] = [syntax.bare(cond.left), syntax.bare(cond.right)];
      const compared = (a: TS.Expression, b: TS.Expression) => syntax.str(a) === 'admin' && isSessionRole(syntax, b, request);
      return compared(left, right) || compared(right, left);
    },
    looksLike: [/\badmin\b/, /\brole\b/],
    expected: (request) => `${request}.session?.role !== 'admin'`,
    missing: 'no onRequest hook of the admin scope refuses (403) a session whose role is not admin',
  });
}

/**
 * The second half of SRV019's check of the protected scope (./mfa-step.ts, beside its text check): a
 * session that must enrol a second factor first is refused (403) outside the enrolment routes, by
 * `if (<session>.enrolOnly && !ENROL_ONLY_ROUTES.has(`${<request>.method} ${<request>.routeOptions.url}`))`
 * and nothing added to it, the route looked up as requested (not a fixed string that is always on the
 * list), with no return before it that lets the request on.
 */
export function enrolGuardProblem(syntax: Syntax, protectedFn: TS.FunctionLikeDeclaration): string | undefined {
  const ts = syntax.ts;
  const route = (request: string) => `\`\${${request}.method} \${${request}.routeOptions.url}\``;
  return guardStatementProblem(syntax, protectedFn, {
    name: 'the enrol-only check',
    isCondition: (cond, request) => {
      if (!ts.isBinaryExpression(cond) || cond.operatorToken.kind !== ts.SyntaxKind.AmpersandAmpersandToken) return false;
      const enrolOnly = syntax.bare(cond.left);
      const notListed = syntax.bare(cond.right);
      if (!ts.isPropertyAccessExpression(enrolOnly) || enrolOnly.name.text !== 'enrolOnly') return false;
      if (!ts.isPrefixUnaryExpression(notListed) || notListed.operator !== ts.SyntaxKind.ExclamationToken) return false;
      const lookup = syntax.bare(notListed.operand);
      return ts.isCallExpression(lookup) && lookup.expression.getText() === 'ENROL_ONLY_ROUTES.has' && lookup.arguments.length === 1
        && lookup.arguments[0]!.getText() === route(request);
    },
    looksLike: [/\benrolOnly\b/],
    expected: (request) => `session.enrolOnly && !ENROL_ONLY_ROUTES.has(${route(request)})`,
    missing: 'no onRequest hook of the protected scope refuses (403) an enrol-only session outside ENROL_ONLY_ROUTES',
  });
}
