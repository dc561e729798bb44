/**
 * SRV019 of `xms check` (invariants I9, I13): the second factor of a log-in is not weakened. Applies
 * to an app that has the second factor (src/auth/mfa.ts, or POST /api/auth/login/mfa on its public
 * list):
 *   - POST /api/auth/login/mfa is in the public scope and takes its attempt from the client IP's and
 *     the account's allowance (limits.<action>.consumeIp / consumeAccount, or consume) before the code
 *     is checked (redeemChallenge / verifySecondFactor), as SRV010 asks of the password step
 *   - POST /api/auth/login hands over to afterPassword() and opens no session itself (a password alone
 *     must not give an enrolled user a session)
 *   - the protected scope's session hook refuses an enrol-only session outside ENROL_ONLY_ROUTES (403),
 *     with nothing added to that condition and no return before it that lets the request go on
 *     (read from the hook's syntax tree: ./hook-guards.ts)
 * The database half (an enrol-only session has no identity: the sessions_own_token policy of
 * *_xms_mfa.sql) is held by DB003 policy drift.
 * Input: the route inventory and the protected scope's hooks that ./routes.ts reads.
 */
import { join } from 'node:path';
import type TS from 'typescript';
import { finding, type Syntax } from '../syntax.js';
import { enrolGuardProblem } from './hook-guards.js';
import { consumeProblem, limiterCall } from './rate-limits.js';
import type { Finding } from '../types.js';

export interface MfaRoute {
  method: string;
  url: string;
  scope: 'public' | 'protected' | 'admin' | 'root';
  at: string;
  handler: string;
}

const ID = 'SRV019-mfa-step-weakened';
const MFA_ROUTE = '/api/auth/login/mfa';

function firstIndex(text: string, pattern: RegExp): number {
  const m = pattern.exec(text);
  return m ? m.index : -1;
}

export function checkMfaStep(syntax: Syntax, routes: MfaRoute[], publicList: Set<string>, protectedHooks: string[], protectedFn?: TS.FunctionLikeDeclaration): Finding[] {
  const hasMfa = syntax.exists(join(syntax.appDir, 'src', 'auth', 'mfa.ts')) || publicList.has(`POST ${MFA_ROUTE}`);
  if (!hasMfa) return [];
  const out: Finding[] = [];
  const route = routes.find((r) => r.method === 'POST' && r.url === MFA_ROUTE && r.scope === 'public');
  if (!route) {
    out.push(finding(ID, 'src/routes/public', `POST ${MFA_ROUTE} (the second step of a log-in) was not found in the public scope`,
      'register src/routes/public/login-mfa.ts in the public scope of src/server/app.ts'));
  } else {
    const verify = firstIndex(route.handler, /\b(redeemChallenge|verifySecondFactor)\s*\(/);
    const perIp = firstIndex(route.handler, /\blimits\s*\.\s*\w+\s*\.\s*consume(Ip)?\s*\(/);
    const perAccount = firstIndex(route.handler, /\blimits\s*\.\s*\w+\s*\.\s*consume(Account)?\s*\(/);
    const late = (i: number) => i < 0 || (verify >= 0 && verify < i);
    if (verify < 0) {
      out.push(finding(ID, route.at, `POST ${MFA_ROUTE} does not verify the second factor (redeemChallenge)`, 'restore the template\'s handler: the code is verified and the challenge spent by redeemChallenge()'));
    }
    if (late(perIp) || late(perAccount)) {
      out.push(finding(ID, route.at, `POST ${MFA_ROUTE} does not take its attempt from the IP's and the account's allowance before the code is checked`,
        'call await limits.mfa.consumeIp(request.ip) and await limits.mfa.consumeAccount(email) before redeemChallenge(), limits.mfa.succeeded(...) after'));
    } else {
      // both allowances taken on every path, awaited (./rate-limits.ts)
      const skipped = consumeProblem(syntax, route.handler, limiterCall('Ip')) ?? consumeProblem(syntax, route.handler, limiterCall('Account'));
      if (skipped) {
        out.push(finding(ID, route.at, `POST ${MFA_ROUTE}: ${skipped}`,
          'take both allowances as statements of their own in the handler: await limits.mfa.consumeIp(request.ip); ... await limits.mfa.consumeAccount(challenge.email);'));
      }
    }
  }
  const login = routes.find((r) => r.method === 'POST' && r.url === '/api/auth/login' && r.scope === 'public');
  if (login && (!/\bafterPassword\s*\(/.test(login.handler) || /\bcreateSession\s*\(/.test(login.handler))) {
    out.push(finding(ID, login.at, 'POST /api/auth/login opens a session itself instead of handing over to afterPassword() (a user with a second factor would skip it)',
      'return afterPassword(app.xms, request, reply, membership) once the password is verified (src/auth/login.ts)'));
  }
  if (!protectedHooks.some((t) => /\benrolOnly\b/.test(t) && /\bENROL_ONLY_ROUTES\b/.test(t) && /\b403\b/.test(t))) {
    out.push(finding(ID, 'src/server/app.ts', 'the protected scope does not refuse an enrol-only session outside the enrolment routes',
      "restore the session hook's check: if (session.enrolOnly && !ENROL_ONLY_ROUTES.has(...)) return reply.code(403)..."));
  } else {
    const problem = protectedFn && enrolGuardProblem(syntax, protectedFn);
    if (problem) {
      out.push(finding(ID, syntax.at(protectedFn), problem,
        "restore the session hook's check: if (session.enrolOnly && !ENROL_ONLY_ROUTES.has(`${request.method} ${request.routeOptions.url}`)) return reply.code(403)..."));
    }
  }
  return out;
}
