/**
 * SRV010 of `xms check` (invariant I13): the credential routes (log-in, sign-up, reset, verify, invitation) of the
 * public scope consume their rate limiter before anything secret is verified (awaited, on every
 * path of the handler: consumeProblem below), and the limiter
 * (class ActionLimiter of src/security/rate-limit.ts) counts in a store shared by every instance.
 * Input: the route inventory of ./routes.ts.
 */
import { join } from 'node:path';
import type * as TS from 'typescript';
import { finding, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';
import type { Inventory } from './routes.js';

const ID = 'SRV010-auth-not-rate-limited';
const CREDENTIAL_ROUTE = /login|log-in|signin|sign-in|signup|sign-up|register|reset|password|verify|email|invitation|join/i;

/** A call of a limiter: limits.<action>.consume(...), or only its per-IP / per-account half (with consume). */
export const limiterCall = (half?: 'Ip' | 'Account'): RegExp => new RegExp(`^limits\\s*\\.\\s*\\w+\\s*\\.\\s*consume(${half ?? 'Ip|Account'})?$`);
const CONSUME = limiterCall();

/**
 * Why the handler's first limiter call (or the first matching `which`) may not hold a request back,
 * if it may: the call must be
 * awaited, as a statement of its own, reached on every path (the handler's body, or the try block
 * of a statement whose catch answers the request), so that its refusal (RateLimited) ends the
 * request. Not in an if or a loop, not swallowed by a .catch() or an empty catch, not left
 * un-awaited (the attempt would be counted after the secret was checked, or not at all).
 * The handler is parsed from its text (the inventory keeps text).
 */
export function consumeProblem(syntax: Syntax, handlerText: string, which: RegExp = CONSUME): string | undefined {
  const ts = syntax.ts;
  const sf = ts.createSourceFile('handler.ts', `(${handlerText})`, ts.ScriptTarget.Latest, true);
  let call: TS.CallExpression | undefined;
  const find = (n: TS.Node): void => {
    if (call) return;
    if (ts.isCallExpression(n) && which.test(n.expression.getText())) call = n;
    else n.forEachChild(find);
  };
  find(sf);
  if (!call) return 'no limiter call was found in its handler';
  const text = call.getText().split('\n')[0];
  if (!ts.isAwaitExpression(call.parent)) return `its limiter call \`${text}\` is not awaited as it is (its refusal would not end the request)`;
  const statement = call.parent.parent;
  if (!ts.isExpressionStatement(statement)) return `its limiter call \`${text}\` is not a statement of its own`;
  for (let n: TS.Node = statement; ; n = n.parent) {
    const parent = n.parent;
    if (!parent) return `its limiter call \`${text}\` was not found in the handler's body`;
    if (ts.isFunctionLike(parent)) {
      // the handler itself, or a callback inside it that may run late or never
      for (let up = parent.parent; up; up = up.parent) {
        if (ts.isFunctionLike(up)) return `its limiter call \`${text}\` is inside a callback of the handler, not in the handler's own body`;
      }
      return undefined;
    }
    if (ts.isBlock(parent) || ts.isSourceFile(parent)) continue;
    if (ts.isTryStatement(parent) && parent.tryBlock === n) {
      const answered = parent.catchClause && syntax.all(parent.catchClause.block, (x): x is TS.Statement => ts.isReturnStatement(x) || ts.isThrowStatement(x)).length > 0;
      if (!answered) return `its limiter call \`${text}\` is in a try whose catch does not end the request (a refusal would be swallowed)`;
      continue;
    }
    const where = ts.isIfStatement(parent) ? 'an if' : ts.isIterationStatement(parent, false) ? 'a loop' : ts.isCatchClause(parent) ? 'a catch' : ts.isSwitchStatement(parent) || ts.isCaseClause(parent) ? 'a switch' : ts.SyntaxKind[parent.kind];
    return `its limiter call \`${text}\` is not reached on every path (it is inside ${where})`;
  }
}

export function checkRateLimits(syntax: Syntax, inventory: Inventory): Finding[] {
  const out: Finding[] = [];
  const { routes, publicList } = inventory;
  const credentialRoutes = routes.filter((r) => r.scope === 'public' && r.method !== 'GET' && CREDENTIAL_ROUTE.test(r.url));
  if (publicList.size > 0 && credentialRoutes.length === 0 && [...publicList].some((k) => CREDENTIAL_ROUTE.test(k))) {
    out.push(finding(ID, 'src/routes/public', 'the log-in / sign-up / reset routes of the public list were not found in the public scope', 'register the auth routes in the public scope'));
  }
  for (const r of credentialRoutes) {
    // consume first: an attempt counted only after the secret was verified lets a parallel burst
    // through (every request passes the check before any of them is counted)
    const consumed = /\blimits\s*\.\s*\w+\s*\.\s*consume(Ip)?\s*\(/.exec(r.handler);
    const verifies = /\b(authenticate|verifyPassword|redeemResetToken|redeemVerification|signUp|checkPassword|joinByInvitation|findInvitation)\s*\(/.exec(r.handler);
    if (!consumed || (verifies && verifies.index < consumed.index)) {
      out.push(finding(ID, r.at, `${r.method} ${r.url} does not consume its rate limiter before verifying (limits.<action>.consume)`,
        'call await limits.<action>.consume(request.ip, email) before anything secret is checked, and limits.<action>.succeeded(...) on success'));
    } else {
      const skipped = consumeProblem(syntax, r.handler);
      if (skipped) {
        out.push(finding(ID, r.at, `${r.method} ${r.url}: ${skipped}`,
          'consume the limiter as a statement of its own in the handler: await limits.<action>.consume(request.ip, email); (a refusal must end the request)'));
      }
    }
  }
  out.push(...syntax.persisted('rate-limit-store', () => checkStore(syntax)));
  return out;
}

function checkStore(syntax: Syntax): Finding[] {
  const ts = syntax.ts;
  const sf = syntax.file(join(syntax.appDir, 'src', 'security', 'rate-limit.ts'));
  if (!sf) {
    return [finding(ID, 'src/security/rate-limit.ts', 'the rate limiter module is missing', 'restore src/security/rate-limit.ts (shared PostgreSQL store)')];
  }
  let cls: TS.ClassDeclaration | undefined;
  const functions = new Map<string, TS.FunctionDeclaration>();
  syntax.walk(sf, (n) => {
    if (ts.isClassDeclaration(n) && n.name?.text === 'ActionLimiter') cls = n;
    if (ts.isFunctionDeclaration(n) && n.name) functions.set(n.name.text, n);
  });
  if (!cls) {
    return [finding(ID, 'src/security/rate-limit.ts', 'class ActionLimiter (the credential routes\' limiter) is missing', 'restore it from the template')];
  }
  // the class and the module functions it calls, one level deep
  let text = cls.getText();
  for (const m of text.matchAll(/\b([A-Za-z_]\w*)\s*\(/g)) if (functions.has(m[1]!)) text += functions.get(m[1]!)!.getText();
  const shared = /new\s+RateLimiter(Postgres|Redis|Memcache|Mongo|MySQL|Cluster|Union)\b/.test(text);
  const local = /new\s+RateLimiter(Memory|Queue)?\s*\(/.test(text.replace(/new\s+RateLimiter(Postgres|Redis|Memcache|Mongo|MySQL|Cluster|Union)\b/g, ''));
  if (!shared || local) {
    return [finding(ID, syntax.at(cls), 'the credential routes\' limiter does not use a shared store (each instance would count alone, so N instances allow N times the attempts)',
      'use RateLimiterPostgres (the template\'s store in app_private.auth_rate_limits)')];
  }
  return [];
}
