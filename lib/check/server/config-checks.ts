/**
 * Configuration checks of `xms check` read from src/config.ts (and where the server uses it):
 *   SRV015  session lifetimes: SESSION_IDLE_MINUTES / SESSION_ABSOLUTE_HOURS have sane defaults and are
 *           read through a helper that refuses values above 24 h / 30 days; the session queries of
 *           src/auth/sessions.ts and src/db/request.ts bind their expiry intervals to those settings;
 *   SRV016  proxy trust: no `trustProxy` can become "trust every hop" (true, '*', 0.0.0.0/0, ::/0) by
 *           default or by a list value, and production refuses TRUST_PROXY=true.
 * The defaults and the parsing are folded from the syntax tree (./syntax.ts); nothing is executed.
 */
import { join, relative } from 'node:path';
import { listMigrations } from '../../matrix/migrations.js';
import type * as TS from 'typescript';
import { finding, Syntax, UNKNOWN, type FunctionLike, type Value } from '../syntax.js';
import type { Finding } from '../types.js';

/** Upper bounds of the session lifetimes (the generated config refuses more, in every environment). */
export const SESSION_IDLE_MAX_MINUTES = 24 * 60;
export const SESSION_ABSOLUTE_MAX_HOURS = 30 * 24;

const CONFIG = join('src', 'config.ts');

export function checkConfig(syntax: Syntax): Finding[] {
  return [...sessionLifetimes(syntax), ...trustProxy(syntax)];
}

// ------------------------------------------------------------------ SRV015 session lifetimes
const SESSION = 'SRV015-session-lifetime';

function sessionLifetimes(syntax: Syntax): Finding[] {
  const { ts } = syntax;
  const out: Finding[] = [];
  const sf = syntax.source(CONFIG);
  const settings = [
    { key: 'SESSION_IDLE_MINUTES', prop: 'sessionIdleMinutes', max: SESSION_IDLE_MAX_MINUTES, unit: 'minutes', label: '24 h' },
    { key: 'SESSION_ABSOLUTE_HOURS', prop: 'sessionAbsoluteHours', max: SESSION_ABSOLUTE_MAX_HOURS, unit: 'hours', label: '30 days' },
  ];
  const fix = (s: (typeof settings)[number]) =>
    `read ${s.key} in src/config.ts as int(env, '${s.key}', <default>, 1, ${s.max}) (at most ${s.label}; int() refuses a value outside its bounds)`;
  if (!sf) return [finding(SESSION, CONFIG, 'the config module is missing: the session lifetimes cannot be verified', 'restore src/config.ts from the template')];
  const consts = syntax.constants(sf);
  for (const s of settings) {
    const assignment = syntax.all(sf, ts.isPropertyAssignment).find((p) => ts.isIdentifier(p.name) && p.name.text === s.prop);
    if (!assignment) {
      out.push(finding(SESSION, CONFIG, `the config has no ${s.prop}: the session lifetime is not configured and bounded here`, fix(s)));
      continue;
    }
    const init = syntax.bare(assignment.initializer);
    const call = ts.isCallExpression(init) && syntax.evaluate(init.arguments[1] ?? init, consts) === s.key ? init : undefined;
    const reader = call && ts.isIdentifier(call.expression) ? syntax.func(sf, call.expression.text) : undefined;
    if (!call || !reader || call.arguments.length < 5) {
      out.push(finding(SESSION, syntax.at(assignment), `${s.prop} is not read from ${s.key} through the bounded int(env, key, default, min, max) of src/config.ts`, fix(s)));
      continue;
    }
    const [fallback, min, max] = call.arguments.slice(2, 5).map((a) => syntax.evaluate(a, consts));
    if (typeof max !== 'number' || max > s.max) {
      out.push(finding(SESSION, syntax.at(call), `${s.key} accepts up to ${typeof max === 'number' ? `${max} ${s.unit}` : '(not a constant)'}: above ${s.max} ${s.unit} (${s.label})`, fix(s)));
    }
    if (typeof fallback !== 'number' || fallback > s.max || fallback < 1) {
      out.push(finding(SESSION, syntax.at(call), `the default ${s.key} is ${typeof fallback === 'number' ? `${fallback} ${s.unit}` : '(not a constant)'}: outside 1..${s.max} ${s.unit} (${s.label})`, fix(s)));
    }
    if (typeof min !== 'number' || min < 1) {
      out.push(finding(SESSION, syntax.at(call), `${s.key} accepts ${typeof min === 'number' ? min : '(not a constant)'} ${s.unit}: the minimum must be at least 1`, fix(s)));
    }
    if (!refusesAbove(syntax, reader)) {
      out.push(finding(SESSION, syntax.at(reader), `${reader.name?.getText() ?? 'the reader'}() does not throw for a value above its maximum: ${s.key} is unbounded`,
        'int(env, key, fallback, min, max) must throw a ConfigError when the value is below min or above max'));
    }
  }
  out.push(...sessionStore(syntax), ...requestEntry(syntax));
  return out;
}

/**
 * The request path slides the idle expiry inside app_private.enter_session (a migration,
 * 20240101000390_xms_request_entry.sql, called by src/db/request.ts): request.ts must hand it
 * config.sessionIdleMinutes, and the newest definition of the function (a later migration may
 * redefine it) must slide by its idle_minutes argument, never by an interval literal. Since
 * 20240101000397_xms_auth_key.sql the slide is in app_private.check_session, which enter_session
 * calls: enter_session must pass its idle_minutes on, and check_session must slide by it. Both are
 * last defined by 20240101000401_xms_session_entry_json.sql. A sessionOnly route's check calls
 * check_session itself (20240101000402_xms_session_check_by_login.sql), with the same parameters;
 * 20240101000403_xms_session_membership_revocation.sql defines check_session last.
 */
const functionDefinition = (name: string) =>
  new RegExp(`create\\s+(?:or\\s+replace\\s+)?function\\s+app_private\\.${name}\\s*\\([\\s\\S]*?\\$(\\w*)\\$([\\s\\S]*?)\\$\\1\\$`, 'gi');
const ENTER_FUNCTION = functionDefinition('enter_session');
const CHECK_FUNCTION = functionDefinition('check_session');
/** The request path's call that hands the session check its idle lifetime (src/db/request.ts). */
const ENTRY_CALLS = ['enterSessionParams', 'enterSessionSql'];

function requestEntry(syntax: Syntax): Finding[] {
  const { ts } = syntax;
  const out: Finding[] = [];
  const file = SESSION_QUERY_FILES[1]!;
  const sf = syntax.source(file);
  if (!sf || !sf.text.includes('app_private.enter_session')) return out;
  const fix = 'pass config.sessionIdleMinutes to the session check, and slide by make_interval(mins => idle_minutes) in app_private.check_session (called by app_private.enter_session with its idle_minutes)';
  const calls = syntax.all(sf, ts.isCallExpression).filter((c) => ts.isIdentifier(c.expression) && ENTRY_CALLS.includes(c.expression.text));
  for (const call of calls) {
    const idle = call.arguments[1] && syntax.bare(call.arguments[1]);
    if (!idle || !ts.isPropertyAccessExpression(idle) || idle.name.text !== 'sessionIdleMinutes') {
      out.push(finding(SESSION, syntax.at(call), `the session check is given ${idle ? idle.getText() : '(nothing)'} as the idle lifetime, not config.sessionIdleMinutes: the session lifetime escapes its bound`, fix));
    }
  }
  if (calls.length === 0) out.push(finding(SESSION, file, 'src/db/request.ts calls app_private.enter_session without enterSessionParams(token, config.sessionIdleMinutes): the idle lifetime cannot be verified', fix));
  // the sessionOnly check calls check_session itself, with the same enterSessionParams
  const callsCheck = sf.text.includes('app_private.check_session');
  let newest: { file: string; body: string } | undefined;
  let newestCheck: { file: string; body: string } | undefined;
  const migrations = join(syntax.appDir, 'supabase', 'migrations');
  syntax.list(migrations); // recorded: a new migration may redefine the function
  for (const migration of listMigrations(migrations)) {
    const text = syntax.read(migration.file) ?? '';
    for (const m of text.matchAll(ENTER_FUNCTION)) newest = { file: migration.file, body: m[2]! };
    for (const m of text.matchAll(CHECK_FUNCTION)) newestCheck = { file: migration.file, body: m[2]! };
  }
  const slides = (body: string) => !/\binterval\s+'/i.test(body) && /make_interval\(\s*mins\s*=>\s*idle_minutes\s*\)/.test(body);
  const unbound = 'does not slide the idle expiry by its idle_minutes argument (an interval literal, or no make_interval(mins => idle_minutes)): the session lifetime escapes its bound';
  const enterCallsCheck = newest !== undefined && /\bcheck_session\s*\(/.test(newest.body);
  if (!newest) {
    out.push(finding(SESSION, file, 'no migration defines app_private.enter_session, which the request path calls', 'restore 20240101000401_xms_session_entry_json.sql from the template'));
  } else if (enterCallsCheck) {
    if (!/\bcheck_session\s*\(\s*\w+\s*,\s*idle_minutes\s*,/.test(newest.body)) {
      out.push(finding(SESSION, relative(syntax.appDir, newest.file), 'app_private.enter_session does not pass its idle_minutes to app_private.check_session: the session lifetime escapes its bound', fix));
    }
  } else if (!slides(newest.body)) {
    out.push(finding(SESSION, relative(syntax.appDir, newest.file), `app_private.enter_session ${unbound}`, fix));
  }
  if (enterCallsCheck || callsCheck) {
    if (!newestCheck) {
      out.push(finding(SESSION, enterCallsCheck ? relative(syntax.appDir, newest!.file) : file, 'no migration defines app_private.check_session, which the request path calls', 'restore 20240101000401_xms_session_entry_json.sql from the template'));
    } else if (!slides(newestCheck.body)) {
      out.push(finding(SESSION, relative(syntax.appDir, newestCheck.file), `app_private.check_session ${unbound}`, fix));
    }
  }
  return out;
}

/**
 * The session store must take its lifetimes from that config: in the session queries (src/auth/sessions.ts,
 * and src/db/request.ts where the request path slides the idle expiry) every make_interval(mins => $n) /
 * make_interval(hours => $n) is bound to a sessionIdleMinutes / sessionAbsoluteHours property (the
 * config's), no interval literal appears in a query that sets an expiry, and the insert sets both
 * expiries. A query is a string or template argument of a call, or a module constant passed as one.
 */
const SESSION_QUERY_FILES = [join('src', 'auth', 'sessions.ts'), join('src', 'db', 'request.ts')];

function sessionStore(syntax: Syntax): Finding[] {
  const { ts } = syntax;
  const out: Finding[] = [];
  const fix = 'bind make_interval(mins => $n) to config.sessionIdleMinutes and make_interval(hours => $n) to config.sessionAbsoluteHours in the session queries';
  let inserts = 0;
  const isSqlText = (n: TS.Node | undefined): n is TS.StringLiteral | TS.NoSubstitutionTemplateLiteral | TS.TemplateExpression =>
    !!n && (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateExpression(n));
  for (const file of SESSION_QUERY_FILES) {
    const sf = syntax.source(file);
    if (!sf) {
      if (file === SESSION_QUERY_FILES[0]) out.push(finding(SESSION, file, 'the session module is missing: the session lifetimes cannot be verified', fix));
      continue;
    }
    for (const call of syntax.all(sf, ts.isCallExpression)) {
      const [arg, paramsArg] = call.arguments;
      // the SQL itself, or the module constant holding it
      const sqlArg = arg && ts.isIdentifier(arg) ? syntax.constant(sf, arg.text)?.initializer : arg;
      if (!isSqlText(sqlArg)) continue;
      const sql = ts.isTemplateExpression(sqlArg) ? sqlArg.getText() : sqlArg.text;
      if (!/\bexpires_at\b/.test(sql)) continue;
      const params = paramsArg && ts.isArrayLiteralExpression(paramsArg) ? paramsArg.elements : undefined;
      if (/^\s*insert\s+into\s+[\w.]*sessions\b/i.test(sql)) {
        inserts++;
        if (!/make_interval\(\s*mins\s*=>/.test(sql) || !/make_interval\(\s*hours\s*=>/.test(sql)) {
          out.push(finding(SESSION, syntax.at(call), 'the session insert does not set idle_expires_at and expires_at from make_interval(mins => ...) and make_interval(hours => ...)', fix));
        }
      }
      if (/\binterval\s+'/i.test(sql)) out.push(finding(SESSION, syntax.at(call), 'a session query sets an expiry from an interval literal instead of the configured lifetime', fix));
      for (const m of sql.matchAll(/make_interval\(\s*(mins|hours)\s*=>\s*\$(\d+)/g)) {
        const prop = m[1] === 'mins' ? 'sessionIdleMinutes' : 'sessionAbsoluteHours';
        const param = params?.[Number(m[2]) - 1];
        const bound = param && syntax.bare(param);
        if (!bound || !ts.isPropertyAccessExpression(bound) || bound.name.text !== prop) {
          out.push(finding(SESSION, syntax.at(call), `make_interval(${m[1]} => $${m[2]}) is bound to ${bound ? bound.getText() : '(nothing)'}, not config.${prop}: the session lifetime escapes its bound`, fix));
        }
      }
    }
  }
  if (inserts === 0) out.push(finding(SESSION, SESSION_QUERY_FILES[0]!, 'no insert into the sessions table was found: the session lifetimes cannot be verified', fix));
  return out;
}

/** Whether a reader(env, key, fallback, min, max) throws when the value exceeds its `max` parameter. */
function refusesAbove(syntax: Syntax, fn: FunctionLike): boolean {
  const { ts } = syntax;
  const max = fn.parameters[4]?.name;
  if (!max || !ts.isIdentifier(max) || !fn.body) return false;
  return syntax.all(fn.body, ts.isIfStatement).some((st) => {
    const compares = syntax.all(st.expression, ts.isBinaryExpression).some((b) => {
      const op = b.operatorToken.kind;
      const right = ts.isIdentifier(b.right) && b.right.text === max.text;
      const left = ts.isIdentifier(b.left) && b.left.text === max.text;
      return (right && (op === ts.SyntaxKind.GreaterThanToken)) || (left && op === ts.SyntaxKind.LessThanToken);
    });
    return compares && syntax.all(st.thenStatement, ts.isThrowStatement).length > 0;
  });
}

// ------------------------------------------------------------------ SRV016 trust proxy
const PROXY = 'SRV016-trust-proxy-all';
const PROXY_FIX = 'trustProxy must be false, a hop count or the proxy addresses: TRUST_PROXY defaults to false, src/config.ts refuses "*" and /0 ranges, production refuses true';
/** TRUST_PROXY values that trust every hop: each must be refused (or mean no trust). */
const TRUST_ALL_VALUES = ['*', '0.0.0.0/0', '::/0'];

/** Whether a trustProxy value trusts every address. */
export function trustsEveryone(value: Value | Value[]): boolean {
  if (value === true) return true;
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  return items.some((item) => typeof item === 'string' && (item.trim() === '*' || /\/0+$/.test(item.trim())));
}

function trustProxy(syntax: Syntax): Finding[] {
  const { ts } = syntax;
  const out: Finding[] = [];
  // 1. every trustProxy option in the sources: a constant that does not trust everyone, or the config's
  for (const file of syntax.sourcesMentioning('trustProxy')) {
    const sf = syntax.source(file);
    if (!sf || file === CONFIG) continue;
    const consts = syntax.constants(sf);
    for (const p of syntax.all(sf, (n): n is TS.PropertyAssignment | TS.ShorthandPropertyAssignment => ts.isPropertyAssignment(n) || ts.isShorthandPropertyAssignment(n))) {
      if (!ts.isIdentifier(p.name) || p.name.text !== 'trustProxy') continue;
      const value = ts.isPropertyAssignment(p) ? syntax.bare(p.initializer) : p.name;
      if (ts.isPropertyAccessExpression(value) && value.name.text === 'trustProxy') continue; // config.trustProxy: verified below
      const folded = ts.isArrayLiteralExpression(value) ? value.elements.map((e) => syntax.evaluate(e, consts)) : syntax.evaluate(value, consts);
      if (folded === UNKNOWN || (Array.isArray(folded) && folded.includes(UNKNOWN))) {
        out.push(finding(PROXY, syntax.at(p), `trustProxy is ${value.getText()}: not config.trustProxy nor a constant, it cannot be verified`, 'pass config.trustProxy (validated by src/config.ts)'));
      } else if (trustsEveryone(folded)) {
        out.push(finding(PROXY, syntax.at(p), `trustProxy: ${value.getText()} trusts every hop: any client spoofs its address with X-Forwarded-For (rate limits, logs)`, PROXY_FIX));
      }
    }
  }

  // 2. the config: TRUST_PROXY unset or "trust all" values must not become trust-all
  const sf = syntax.source(CONFIG);
  if (!sf) return out;
  const assignment = syntax.all(sf, (n): n is TS.PropertyAssignment | TS.ShorthandPropertyAssignment => ts.isPropertyAssignment(n) || ts.isShorthandPropertyAssignment(n))
    .find((p) => ts.isIdentifier(p.name) && p.name.text === 'trustProxy');
  if (!assignment) return out;
  const consts = syntax.constants(sf);
  for (const raw of [undefined, '', ...TRUST_ALL_VALUES]) {
    const result = parseResult(syntax, sf, ts.isPropertyAssignment(assignment) ? assignment.initializer : assignment.name, raw, consts);
    const unset = raw === undefined || raw === '';
    if (result === THROWS) continue;
    if (result === ABORT || (unset && result === UNKNOWN)) {
      out.push(finding(PROXY, syntax.at(assignment), `what TRUST_PROXY=${unset ? '(unset)' : raw} becomes cannot be determined from the source`, PROXY_FIX));
      break;
    }
    // unset must not trust all; a trust-all value must be refused (or mean no trust)
    if (unset ? trustsEveryone(result) : result !== false && result !== 0) {
      out.push(finding(PROXY, syntax.at(assignment), `${unset ? 'TRUST_PROXY unset (the default) trusts' : `TRUST_PROXY=${raw} is accepted and trusts`} every hop: any client spoofs its address with X-Forwarded-For`, PROXY_FIX));
    }
  }
  // 3. production refuses an explicit TRUST_PROXY=true
  const refused = syntax.all(sf, ts.isIfStatement).some((st) => /\btrustProxy\s*===\s*true\b|\btrue\s*===\s*[\w.]*trustProxy\b/.test(st.expression.getText()) && syntax.all(st.thenStatement, ts.isThrowStatement).length > 0);
  if (!refused) {
    const guard = syntax.func(sf, 'assertProductionSafe') ?? syntax.func(sf, 'loadConfig');
    out.push(finding(PROXY, guard ? syntax.at(guard) : CONFIG, 'production does not refuse TRUST_PROXY=true (trust every hop)', "assertProductionSafe: if (config.trustProxy === true) throw new ConfigError('refusing to start in production: TRUST_PROXY=true ...')"));
  }
  return out;
}

/** The simulated parse threw (the value is refused). */
const THROWS = Symbol('throws');
/** The simulation met a condition or statement it cannot fold. */
const ABORT = Symbol('abort');
type Outcome = Value | typeof THROWS | typeof ABORT;

/**
 * What the config's trustProxy initializer yields for TRUST_PROXY = raw: a folded value (UNKNOWN when
 * built at run time, e.g. the address list), THROWS, or ABORT. A call to a function of src/config.ts
 * is followed: its straight-line ifs, returns, throws and a for-of over the comma list (one item).
 */
function parseResult(syntax: Syntax, sf: TS.SourceFile, init: TS.Expression, raw: string | undefined, consts: Map<string, Value>): Outcome {
  const { ts } = syntax;
  const bindings = new Map(consts);
  syntax.walk(init, (n) => {
    if ((ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n)) && /TRUST_PROXY/.test(n.getText())) bindings.set(n.getText(), raw);
  });
  const value = syntax.bare(init);
  if (ts.isCallExpression(value) && ts.isIdentifier(value.expression)) {
    const fn = syntax.func(sf, value.expression.text);
    if (!fn?.body) return ABORT;
    const scope = new Map(consts);
    fn.parameters.forEach((p, i) => {
      if (ts.isIdentifier(p.name)) scope.set(p.name.text, value.arguments[i] ? syntax.evaluate(value.arguments[i]!, bindings) : undefined);
    });
    if (ts.isBlock(fn.body)) return run(syntax, fn.body.statements, scope, raw) ?? undefined;
    return syntax.evaluate(fn.body, scope);
  }
  return syntax.evaluate(value, bindings);
}

/** Runs straight-line statements: the outcome, or null when they fall through. */
function run(syntax: Syntax, statements: readonly TS.Statement[], scope: Map<string, Value>, raw: string | undefined): Outcome | null {
  const { ts } = syntax;
  for (const st of statements) {
    if (ts.isReturnStatement(st)) return st.expression ? syntax.evaluate(st.expression, scope) : undefined;
    if (ts.isThrowStatement(st)) return THROWS;
    if (ts.isIfStatement(st)) {
      const cond = syntax.evaluate(st.expression, scope);
      if (cond === UNKNOWN) return ABORT;
      const branch = cond ? st.thenStatement : st.elseStatement;
      if (branch) {
        const r = run(syntax, ts.isBlock(branch) ? branch.statements : [branch], scope, raw);
        if (r !== null) return r;
      }
      continue;
    }
    if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) scope.set(d.name.text, d.initializer ? syntax.evaluate(d.initializer, scope) : undefined);
      continue;
    }
    if (ts.isForOfStatement(st)) {
      // the comma list of TRUST_PROXY, here a single item: the value itself
      const decl = ts.isVariableDeclarationList(st.initializer) ? st.initializer.declarations[0]?.name : undefined;
      if (decl && ts.isIdentifier(decl)) scope.set(decl.text, raw?.trim());
      const r = run(syntax, ts.isBlock(st.statement) ? st.statement.statements : [st.statement], scope, raw);
      if (r !== null) return r;
      continue;
    }
    if (ts.isExpressionStatement(st)) continue;
    return ABORT;
  }
  return null;
}
