/**
 * SRV019 of `xms check`, the passkey half (invariants I9, I13): a passkey completes a log-in (or
 * becomes a second factor) only once the library verified it. Applies to an app that has passkeys
 * (src/auth/passkeys.ts):
 *   - usePasskey() calls verifyAuthenticationResponse({ expectedChallenge, expectedOrigin,
 *     expectedRPID, credential }) and throws unless the result is verified; finishPasskeyRegistration()
 *     likewise with verifyRegistrationResponse()
 *   - expectedChallenge is no function that accepts any challenge (() => true)
 *   - usePasskey() records the new signature counter with an update conditional on it growing
 *     (`counter < $n`): a cloned authenticator, or the same assertion twice, is refused
 *   - redeemChallenge() (src/auth/mfa.ts) verifies a passkey with usePasskey() before it spends the
 *     pending log-in
 * Read from the syntax tree (../syntax.ts).
 */
import { join } from 'node:path';
import type * as TS from 'typescript';
import { finding, type FunctionLike, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';

const ID = 'SRV019-mfa-step-weakened';
const FILE = join('src', 'auth', 'passkeys.ts');
const FIX = 'restore src/auth/passkeys.ts from the template: the response is verified by @simplewebauthn/server against the stored challenge, origin and RP ID, and refused unless verified';

/** The problems of the verification call `name` in `fn`: missing, an expectation left out, the result unchecked. */
function verificationProblems(syntax: Syntax, fn: FunctionLike, name: string, expected: string[]): string[] {
  const { ts } = syntax;
  const call = syntax.all(fn, ts.isCallExpression).find((c) => syntax.calleeName(c) === name);
  if (!call) return [`does not call ${name}()`];
  const arg = call.arguments[0] && syntax.bare(call.arguments[0]);
  if (!arg || !ts.isObjectLiteralExpression(arg)) return [`calls ${name}() without its options object`];
  const out: string[] = [];
  for (const key of expected) if (!syntax.prop(arg, key)) out.push(`calls ${name}() without ${key}`);
  const challenge = syntax.prop(arg, 'expectedChallenge');
  const bare = challenge && syntax.bare(challenge);
  if (bare && (ts.isArrowFunction(bare) || ts.isFunctionExpression(bare)) && acceptsAnything(syntax, bare)) {
    out.push(`passes ${name}() an expectedChallenge that accepts any challenge`);
  }
  // if (!x.verified) throw ...
  const guarded = syntax.all(fn, ts.isIfStatement).some((s) => {
    const cond = syntax.bare(s.expression);
    const negated = ts.isPrefixUnaryExpression(cond) && cond.operator === ts.SyntaxKind.ExclamationToken && syntax.bare(cond.operand);
    const throws = ts.isThrowStatement(s.thenStatement) || (ts.isBlock(s.thenStatement) && s.thenStatement.statements.some((t) => ts.isThrowStatement(t)));
    return negated && ts.isPropertyAccessExpression(negated) && negated.name.text === 'verified' && throws;
  });
  if (!guarded) out.push(`does not refuse a response ${name}() did not verify (if (!result.verified) throw ...)`);
  return out;
}

/** () => true, or a body that returns only `true`. */
function acceptsAnything(syntax: Syntax, fn: TS.ArrowFunction | TS.FunctionExpression): boolean {
  const { ts } = syntax;
  const isTrue = (e: TS.Expression | undefined) => e !== undefined && syntax.bare(e).kind === ts.SyntaxKind.TrueKeyword;
  if (!ts.isBlock(fn.body)) return isTrue(fn.body);
  const returns = syntax.all(fn.body, ts.isReturnStatement);
  return returns.length > 0 && returns.every((r) => isTrue(r.expression));
}

export function checkPasskeyStep(syntax: Syntax): Finding[] {
  const sf = syntax.source(FILE);
  if (!sf) return [];
  const { ts } = syntax;
  const out: Finding[] = [];
  const use = syntax.func(sf, 'usePasskey');
  if (!use) {
    out.push(finding(ID, FILE, 'usePasskey() (the verification of a passkey at log-in) is not defined', FIX));
  } else {
    for (const p of verificationProblems(syntax, use, 'verifyAuthenticationResponse', ['expectedChallenge', 'expectedOrigin', 'expectedRPID', 'credential'])) {
      out.push(finding(ID, syntax.at(use), `usePasskey() ${p}: a log-in would complete with an assertion nobody verified`, FIX));
    }
    const sql = syntax.all(use, (n): n is TS.StringLiteralLike => ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)).map((n) => n.text);
    if (!sql.some((q) => /update\s+app_private\.passkeys\b[\s\S]*\bwhere\b[\s\S]*\bcounter\s*<\s*\$\d/i.test(q))) {
      out.push(finding(ID, syntax.at(use), 'usePasskey() records the signature counter without requiring it to grow (counter < $n): a cloned authenticator or a replayed assertion would pass',
        'update app_private.passkeys set counter = $2 ... where id = $1 and (counter < $2 or (counter = 0 and $2 = 0)), and refuse when no row was updated'));
    }
  }
  const finish = syntax.func(sf, 'finishPasskeyRegistration');
  if (!finish) {
    out.push(finding(ID, FILE, 'finishPasskeyRegistration() (the verification of a new passkey) is not defined', FIX));
  } else {
    for (const p of verificationProblems(syntax, finish, 'verifyRegistrationResponse', ['expectedChallenge', 'expectedOrigin', 'expectedRPID'])) {
      out.push(finding(ID, syntax.at(finish), `finishPasskeyRegistration() ${p}: a credential nobody verified would become a second factor`, FIX));
    }
  }
  const mfa = syntax.source(join('src', 'auth', 'mfa.ts'));
  const redeem = mfa && syntax.func(mfa, 'redeemChallenge');
  if (redeem && !syntax.all(redeem, ts.isCallExpression).some((c) => syntax.calleeName(c) === 'usePasskey')) {
    out.push(finding(ID, syntax.at(redeem), 'redeemChallenge() does not verify a passkey with usePasskey() before it spends the pending log-in',
      'restore src/auth/mfa.ts: a passkey input is verified by usePasskey(tx, rp, userId, assertion, challenge) in the same transaction'));
  }
  return out;
}
