/**
 * The rest of SRV004 (invariants I1, I2): the session the protected hook takes from checkSession()
 * or openSession() (./hook-guards.ts follows it there) is the database's answer, field by field.
 * The admin hook (SRV003) and every handler read `request.session`, so an edit inside these
 * functions that makes a session up (a debug token, a role that is not the session row's) would hand
 * every route a forged identity while the hooks still read right. Read from their syntax trees:
 *
 * src/auth/sessions.ts
 *   - checkSession returns nothing, or `<row> && sessionOf(<token>, <row>)`, <row> a const of it given
 *     `await checkSessionOnly(...)`;
 *   - openSession returns nothing, or `{ session: sessionOf(<token>, <tx>.session), tx: <tx> }`, <tx> a
 *     const of it given `await openSessionRequest(...)`;
 *     (<token> the function's own token parameter; both callees imported from src/db/request.ts)
 *   - sessionOf(token, row) returns only `Object.freeze({...})` of the row's fields: `token`, `role:
 *     row.db_role.slice(4)`, `dbRole: row.db_role`, `userId: row.user_id`, `tenantId: row.tenant_id`,
 *     `enrolOnly: row.mfa_enrol_only`, and any other property a field of row; no spread. Frozen, no
 *     code after the check can write another role into it, however it reached the session (an
 *     alias, Object.assign): the write throws (ES modules are strict).
 * src/db/request.ts
 *   - enteredSession(entered) returns nothing, or `Object.freeze({...})` whose every property is the
 *     same field of a const given `(entered[0] ...)?.entry` (the database function's answer), with
 *     user_id, tenant_id, db_role and mfa_enrol_only among them;
 *   - checkSessionOnly returns nothing, or `enteredSession((await db.query(CHECK_SESSION_SQL, values)).rows)`;
 *   - ENTER_SESSION_SQL and CHECK_SESSION_SQL are consts holding the session check's statements as
 *     the template writes them (enter_session, and check_session as json), so the answer read above
 *     is the database's session check and not a made-up row;
 *   - openSessionRequest opens one transaction, `db.transaction(fn, { first: { text: ENTER_SESSION_SQL, values } })`;
 *   - every `new RequestTransaction(<session>, ...)` is given a const of its function given
 *     `enteredSession(<a parameter of that function>)`.
 * (What the database answers, and the SQL that asks it, are SRV015's and the database checks'.)
 */
import { join } from 'node:path';
import type TS from 'typescript';
import { squeezed, type Syntax } from '../syntax.js';

const SESSIONS = join('src', 'auth', 'sessions.ts');
const REQUEST = join('src', 'db', 'request.ts');

/** The fields sessionOf must copy as they are: session property -> session row field. */
const SESSION_FIELDS: Record<string, string> = { dbRole: 'db_role', userId: 'user_id', tenantId: 'tenant_id', enrolOnly: 'mfa_enrol_only' };
const ROW_FIELDS = ['user_id', 'tenant_id', 'db_role', 'mfa_enrol_only'];

/** Why the session checkSession() or openSession() hands the protected hook may not be the database's, if it may. */
export function sessionSourceProblem(syntax: Syntax): string | undefined {
  const sessions = syntax.file(join(syntax.appDir, SESSIONS));
  const request = syntax.file(join(syntax.appDir, REQUEST));
  if (!sessions) return `${SESSIONS} is missing`;
  if (!request) return `${REQUEST} is missing`;
  return (
    checkSessionProblem(syntax, sessions) ??
    openSessionProblem(syntax, sessions) ??
    sessionOfProblem(syntax, sessions) ??
    enteredSessionProblem(syntax, request) ??
    sessionStatementsProblem(syntax, request) ??
    openSessionRequestProblem(syntax, request) ??
    checkSessionOnlyProblem(syntax, request) ??
    requestTransactionProblem(syntax, request)
  );
}

function functionOf(syntax: Syntax, sf: TS.SourceFile, name: string): TS.FunctionDeclaration | undefined {
  const ts = syntax.ts;
  return sf.statements.find((st): st is TS.FunctionDeclaration => ts.isFunctionDeclaration(st) && st.name?.text === name && !!st.body);
}

/** The returns of fn that return something (a bare `return;` or `return undefined;` refuses). */
function valueReturns(syntax: Syntax, fn: TS.FunctionLikeDeclaration): { ret: TS.ReturnStatement; value: TS.Expression }[] {
  const ts = syntax.ts;
  const out: { ret: TS.ReturnStatement; value: TS.Expression }[] = [];
  for (const ret of syntax.all(fn.body!, ts.isReturnStatement)) {
    // a nested function's returns are its own
    let owner: TS.Node = ret.parent;
    while (!ts.isFunctionLike(owner)) owner = owner.parent;
    if (owner !== fn || !ret.expression) continue;
    const value = syntax.bare(ret.expression);
    if (ts.isIdentifier(value) && value.text === 'undefined') continue;
    out.push({ ret, value });
  }
  return out;
}

/** The initializer of `name` when it is a const of fn declared once in it (nothing shadows it). */
function constOf(syntax: Syntax, fn: TS.FunctionLikeDeclaration, name: string): TS.Expression | undefined {
  const ts = syntax.ts;
  const declarations = [...syntax.all(fn, ts.isVariableDeclaration), ...syntax.all(fn, ts.isParameter)].filter((d) => ts.isIdentifier(d.name) && d.name.text === name);
  const [d, ...others] = declarations;
  if (!d || others.length || !ts.isVariableDeclaration(d) || !(d.parent.flags & ts.NodeFlags.Const) || !d.initializer) return undefined;
  return syntax.bare(d.initializer);
}

/** Whether `local` in sf is `exported` of src/db/request.ts (imported, or its own function). */
function isRequestExport(syntax: Syntax, sf: TS.SourceFile, local: string, exported: string): boolean {
  const ts = syntax.ts;
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || !st.importClause?.namedBindings || !ts.isNamedImports(st.importClause.namedBindings)) continue;
    const spec = syntax.str(st.moduleSpecifier);
    if (!spec || !/(^|\/)db\/request(\.js|\.ts)?$/.test(spec)) continue;
    for (const el of st.importClause.namedBindings.elements) if (el.name.text === local) return (el.propertyName ?? el.name).text === exported;
  }
  return false;
}

/** `await <callee>(...)` with callee `exported` of src/db/request.ts. */
function awaitsRequestCall(syntax: Syntax, sf: TS.SourceFile, e: TS.Expression | undefined, exported: string): boolean {
  const ts = syntax.ts;
  if (!e || !ts.isAwaitExpression(e)) return false;
  const call = syntax.bare(e.expression);
  return ts.isCallExpression(call) && ts.isIdentifier(call.expression) && isRequestExport(syntax, sf, call.expression.text, exported);
}

/** `sessionOf(<token parameter of fn>, <arg>)`: the argument expression, or undefined. */
function sessionOfCall(syntax: Syntax, fn: TS.FunctionDeclaration, e: TS.Expression): TS.Expression | undefined {
  const ts = syntax.ts;
  const token = fn.parameters.some((p) => ts.isIdentifier(p.name) && p.name.text === 'token');
  if (!token || !ts.isCallExpression(e) || e.expression.getText() !== 'sessionOf' || e.arguments.length !== 2) return undefined;
  return e.arguments[0]!.getText() === 'token' ? syntax.bare(e.arguments[1]!) : undefined;
}

/** The object literal of `Object.freeze({ ... })`, or undefined: a session is frozen once made. */
function frozenObject(syntax: Syntax, e: TS.Expression): TS.ObjectLiteralExpression | undefined {
  const ts = syntax.ts;
  if (!ts.isCallExpression(e) || squeezed(e.expression.getText()) !== 'Object.freeze' || e.arguments.length !== 1) return undefined;
  const arg = syntax.bare(e.arguments[0]!);
  return ts.isObjectLiteralExpression(arg) ? arg : undefined;
}

/** A name of the module that fn declares again (a local sessionOf would be another function). */
function shadowed(syntax: Syntax, fn: TS.FunctionDeclaration, names: string[]): string | undefined {
  const ts = syntax.ts;
  const declared = [...syntax.all(fn.body!, ts.isVariableDeclaration), ...syntax.all(fn.body!, ts.isFunctionDeclaration), ...syntax.all(fn, ts.isParameter)];
  return declared.map((d) => (d.name && ts.isIdentifier(d.name) ? d.name.text : undefined)).find((n) => n !== undefined && names.includes(n));
}

/** A session check of sessions.ts that calls `callee` of request.ts, or why it cannot be read. */
function sessionCheck(syntax: Syntax, sf: TS.SourceFile, name: string, callee: string): TS.FunctionDeclaration | string {
  const fn = functionOf(syntax, sf, name);
  if (!fn) return `${name} is missing from ${SESSIONS}`;
  const again = shadowed(syntax, fn, ['sessionOf', callee]);
  return again ? `${name} declares its own \`${again}\`` : fn;
}

function checkSessionProblem(syntax: Syntax, sf: TS.SourceFile): string | undefined {
  const ts = syntax.ts;
  const fn = sessionCheck(syntax, sf, 'checkSession', 'checkSessionOnly');
  if (typeof fn === 'string') return fn;
  for (const { ret, value } of valueReturns(syntax, fn)) {
    const row = ts.isBinaryExpression(value) && value.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken ? syntax.bare(value.left) : undefined;
    const given = row && ts.isIdentifier(row) ? constOf(syntax, fn, row.text) : undefined;
    const of = row && ts.isBinaryExpression(value) ? sessionOfCall(syntax, fn, syntax.bare(value.right)) : undefined;
    if (!row || !given || !awaitsRequestCall(syntax, sf, given, 'checkSessionOnly') || !of || of.getText() !== row.getText()) {
      return `checkSession returns \`${ret.getText()}\`: it may return only \`row && sessionOf(token, row)\`, row given \`await checkSessionOnly(...)\` of src/db/request.ts`;
    }
  }
  return undefined;
}

function openSessionProblem(syntax: Syntax, sf: TS.SourceFile): string | undefined {
  const ts = syntax.ts;
  const fn = sessionCheck(syntax, sf, 'openSession', 'openSessionRequest');
  if (typeof fn === 'string') return fn;
  for (const { ret, value } of valueReturns(syntax, fn)) {
    const txProp = ts.isObjectLiteralExpression(value) ? syntax.prop(value, 'tx') : undefined;
    const tx = txProp && ts.isIdentifier(txProp) ? txProp.text : undefined;
    const given = tx ? constOf(syntax, fn, tx) : undefined;
    const session = ts.isObjectLiteralExpression(value) ? syntax.prop(value, 'session') : undefined;
    const of = session ? sessionOfCall(syntax, fn, syntax.bare(session)) : undefined;
    const onlyTwo = ts.isObjectLiteralExpression(value) && value.properties.length === 2;
    if (!onlyTwo || !tx || !awaitsRequestCall(syntax, sf, given, 'openSessionRequest') || !of || of.getText() !== `${tx}.session`) {
      return `openSession returns \`${ret.getText()}\`: it may return only \`{ session: sessionOf(token, tx.session), tx }\`, tx given \`await openSessionRequest(...)\` of src/db/request.ts`;
    }
  }
  return undefined;
}

function sessionOfProblem(syntax: Syntax, sf: TS.SourceFile): string | undefined {
  const ts = syntax.ts;
  const fn = functionOf(syntax, sf, 'sessionOf');
  const [token, row] = fn?.parameters.map((p) => (ts.isIdentifier(p.name) ? p.name.text : undefined)) ?? [];
  if (!fn || !token || !row) return `sessionOf(token, row) is missing from ${SESSIONS}`;
  const expected = `{ token, role: ${row}.db_role.slice(4), ${Object.entries(SESSION_FIELDS).map(([k, f]) => `${k}: ${row}.${f}`).join(', ')}, ... }`;
  const returns = valueReturns(syntax, fn);
  if (!returns.length) return 'sessionOf returns nothing';
  for (const { ret, value: returned } of returns) {
    const wrong = (why: string) => `sessionOf returns \`${ret.getText().split('\n')[0]}\`${why}: it may return only the row's fields, frozen: Object.freeze(${expected})`;
    const value = frozenObject(syntax, returned);
    if (!value) return wrong('');
    const seen = new Set<string>();
    for (const p of value.properties) {
      const name = p.name && syntax.propName(p.name as TS.PropertyName);
      if (!name || !(ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p))) return wrong(` (\`${p.getText()}\`)`);
      seen.add(name);
      const v = squeezed(ts.isShorthandPropertyAssignment(p) ? p.name.text : p.initializer.getText());
      const ok =
        name === 'token' ? v === token
        : name === 'role' ? v === `${row}.db_role.slice(4)`
        : name in SESSION_FIELDS ? v === `${row}.${SESSION_FIELDS[name]}`
        : new RegExp(`^${row}\\.[A-Za-z_]\\w*$`).test(v);
      if (!ok) return wrong(` (\`${p.getText()}\`)`);
    }
    const missing = ['token', 'role', ...Object.keys(SESSION_FIELDS)].filter((k) => !seen.has(k));
    if (missing.length) return wrong(` (no ${missing.join(', ')})`);
  }
  return undefined;
}

function enteredSessionProblem(syntax: Syntax, sf: TS.SourceFile): string | undefined {
  const ts = syntax.ts;
  const fn = functionOf(syntax, sf, 'enteredSession');
  const entered = fn?.parameters[0] && ts.isIdentifier(fn.parameters[0].name) ? fn.parameters[0].name.text : undefined;
  if (!fn || !entered) return `enteredSession(entered) is missing from ${REQUEST}`;
  for (const { ret, value: returned } of valueReturns(syntax, fn)) {
    const wrong = `enteredSession returns \`${ret.getText().split('\n')[0]}\`: it may return only the fields of the database's answer as they are, frozen: Object.freeze({ user_id: row.user_id, tenant_id: row.tenant_id, db_role: row.db_role, mfa_enrol_only: row.mfa_enrol_only, ... }), row given (${entered}[0] ...)?.entry`;
    const value = frozenObject(syntax, returned);
    if (!value) return wrong;
    const names = new Set<string>();
    let rowName: string | undefined;
    for (const p of value.properties) {
      const name = p.name && syntax.propName(p.name as TS.PropertyName);
      if (!name || !ts.isPropertyAssignment(p)) return wrong;
      const v = syntax.bare(p.initializer);
      if (!ts.isPropertyAccessExpression(v) || v.name.text !== name || !ts.isIdentifier(v.expression)) return wrong;
      if (rowName !== undefined && rowName !== v.expression.text) return wrong;
      rowName = v.expression.text;
      names.add(name);
    }
    const given = rowName ? constOf(syntax, fn, rowName) : undefined;
    const entry = given && ts.isPropertyAccessExpression(given) && given.name.text === 'entry' ? syntax.bare(given.expression) : undefined;
    if (!entry || squeezed(entry.getText()) !== `${entered}[0]` || ROW_FIELDS.some((f) => !names.has(f))) return wrong;
  }
  return undefined;
}

/** The statements whose answer enteredSession reads, as src/db/request.ts declares them. */
const SESSION_CHECK_STATEMENTS: Record<string, string> = {
  ENTER_SESSION_SQL: 'select app_private.enter_session($1, $2, $3) as entry',
  CHECK_SESSION_SQL: 'select pg_catalog.row_to_json(app_private.check_session($1, $2, $3)) as entry',
};

function sessionStatementsProblem(syntax: Syntax, sf: TS.SourceFile): string | undefined {
  const ts = syntax.ts;
  for (const [name, text] of Object.entries(SESSION_CHECK_STATEMENTS)) {
    const declarations = syntax.all(sf, ts.isVariableDeclaration).filter((d) => ts.isIdentifier(d.name) && d.name.text === name);
    const [d, ...others] = declarations;
    const value = d?.initializer && syntax.str(syntax.bare(d.initializer));
    if (!d || others.length || !(d.parent.flags & ts.NodeFlags.Const) || value !== text) {
      return `${name} is not the const '${text}' (declared once): the session the request path reads may not be the database's session check`;
    }
  }
  return undefined;
}

/** openSessionRequest opens its transaction with the session check and nothing before it. */
function openSessionRequestProblem(syntax: Syntax, sf: TS.SourceFile): string | undefined {
  const ts = syntax.ts;
  const fn = functionOf(syntax, sf, 'openSessionRequest');
  const db = fn?.parameters[0]?.name.getText();
  if (!fn || !db) return `openSessionRequest is missing from ${REQUEST}`;
  const expected = '{ first: { text: ENTER_SESSION_SQL, values } }';
  const opens = syntax.all(fn.body!, ts.isCallExpression).filter((c) => squeezed(c.expression.getText()) === `${db}.transaction`);
  if (opens.length !== 1 || squeezed(opens[0]!.arguments[1]?.getText() ?? '') !== squeezed(expected)) {
    return `openSessionRequest must open one transaction, ${db}.transaction(fn, ${expected}): the session it enters may not be the database's session check`;
  }
  return undefined;
}

function checkSessionOnlyProblem(syntax: Syntax, sf: TS.SourceFile): string | undefined {
  const fn = functionOf(syntax, sf, 'checkSessionOnly');
  const db = fn?.parameters[0]?.name.getText();
  if (!fn || !db) return `checkSessionOnly is missing from ${REQUEST}`;
  const expected = `enteredSession((await ${db}.query(CHECK_SESSION_SQL, values)).rows)`;
  for (const { ret, value } of valueReturns(syntax, fn)) {
    if (squeezed(value.getText()) !== squeezed(expected)) return `checkSessionOnly returns \`${ret.getText()}\`: it may return only \`${expected}\``;
  }
  return undefined;
}

function requestTransactionProblem(syntax: Syntax, sf: TS.SourceFile): string | undefined {
  const ts = syntax.ts;
  for (const made of syntax.all(sf, ts.isNewExpression)) {
    if (made.expression.getText() !== 'RequestTransaction') continue;
    let fn: TS.Node = made.parent;
    while (!ts.isFunctionLike(fn)) fn = fn.parent;
    const first = made.arguments?.[0] && syntax.bare(made.arguments[0]);
    const given = first && ts.isIdentifier(first) ? constOf(syntax, fn as TS.FunctionLikeDeclaration, first.text) : undefined;
    const arg = given && ts.isCallExpression(given) && given.expression.getText() === 'enteredSession' && given.arguments.length === 1 ? syntax.bare(given.arguments[0]!) : undefined;
    const isParam = arg && ts.isIdentifier(arg) && (fn as TS.FunctionLikeDeclaration).parameters.some((p) => p.name.getText() === arg.text);
    if (!isParam) {
      return `a request transaction is opened with the session \`${made.arguments?.[0]?.getText() ?? ''}\`: it may be given only a const given enteredSession(<the database's answer>)`;
    }
  }
  return undefined;
}
