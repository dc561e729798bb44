/**
 * SRV005-SRV007 of `xms check` (invariant I11), read from src/security/headers.ts: helmet() with
 * explicit options and a strict CSP (SRV005; also: a hook on the root instance sends SECURITY_HEADERS
 * with every response), HSTS of at least a year with includeSubDomains (SRV006), no framing, nosniff
 * and a Referrer-Policy (SRV007); none of those headers deleted or overwritten after helmet set them.
 */
import { join } from 'node:path';
import type * as TS from 'typescript';
import { finding, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';
import type { Inventory } from './routes.js';

/** SRV005: the root instance sends the security headers (input: the root hooks of ./routes.ts). */
export function checkRootHeaderHook(syntax: Syntax, inventory: Inventory): Finding[] {
  const { rootHooks, headerNames } = inventory;
  const mentions = (text: string) => [...headerNames].some((h) => new RegExp(`\\b${h}\\b`).test(text));
  if (rootHooks.some((h) => ['onSend', 'onRequest', 'preHandler', 'onResponse'].includes(h.name) && /header/i.test(h.text) && mentions(h.text))) return [];
  return [
    finding('SRV005-csp-weak', syntax.rel(inventory.appFile), 'no hook on the root instance sets SECURITY_HEADERS: responses go out without CSP, HSTS or framing headers',
      'restore the root onSend hook that sets every SECURITY_HEADERS entry'),
  ];
}

export function checkHeaders(syntax: Syntax): Finding[] {
  const ts = syntax.ts;
  const out: Finding[] = [];
  const add = (id: string, object: string, message: string, fix: string) => out.push(finding(id, object, message, fix));
  const file = join(syntax.appDir, 'src', 'security', 'headers.ts');
  const sf = syntax.file(file);
  if (!sf) return [finding('SRV005-csp-weak', 'src/security/headers.ts', 'the security headers module is missing', 'restore src/security/headers.ts')];
  const objects = new Map<string, TS.ObjectLiteralExpression>();
  let helmetOptions: TS.ObjectLiteralExpression | undefined;
  syntax.walk(sf, (n) => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer) {
      let init: TS.Node = n.initializer;
      while (ts.isAsExpression(init) || ts.isSatisfiesExpression(init) || ts.isParenthesizedExpression(init)) init = init.expression;
      if (ts.isObjectLiteralExpression(init)) objects.set(n.name.text, init);
    }
    if (ts.isCallExpression(n) && syntax.calleeName(n) === 'helmet' && n.arguments[0] && ts.isObjectLiteralExpression(n.arguments[0])) helmetOptions = n.arguments[0];
  });
  const resolveObj = (e: TS.Expression | undefined) => (e && ts.isObjectLiteralExpression(e) ? e : e && ts.isIdentifier(e) ? objects.get(e.text) : undefined);
  const isFalse = (e: TS.Expression | undefined) => e !== undefined && e.kind === ts.SyntaxKind.FalseKeyword;

  // headers deleted or overwritten after helmet computed them
  const tampered = new Map<string, string>();
  syntax.walk(sf, (n) => {
    let target: TS.Node | undefined;
    if (ts.isDeleteExpression(n)) target = n.expression;
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken) target = n.left;
    if (target && ts.isElementAccessExpression(target)) {
      const key = syntax.str(target.argumentExpression)?.toLowerCase();
      if (key) tampered.set(key, syntax.at(n));
    }
  });

  // CSP
  const csp = helmetOptions ? syntax.prop(helmetOptions, 'contentSecurityPolicy') : undefined;
  const cspObj = resolveObj(csp);
  const directives = cspObj ? resolveObj(syntax.prop(cspObj, 'directives')) : objects.get('CSP_DIRECTIVES');
  const d = new Map<string, string[]>();
  if (directives) {
    for (const p of directives.properties) {
      if (!ts.isPropertyAssignment(p)) continue;
      const name = syntax.propName(p.name);
      if (!name) continue;
      const values = ts.isArrayLiteralExpression(p.initializer) ? p.initializer.elements.map((e) => syntax.str(e) ?? '?') : [syntax.str(p.initializer) ?? '?'];
      d.set(name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), values);
    }
  }
  const where = directives ? syntax.at(directives) : syntax.rel(file);
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
    add('SRV005-csp-weak', where, `Content-Security-Policy: ${p}`, "keep script-src 'self' (no 'unsafe-inline' / 'unsafe-eval'), default-src 'self', object-src 'none', base-uri 'none' in src/security/headers.ts");
  }

  // HSTS
  const hsts = helmetOptions ? syntax.prop(helmetOptions, 'strictTransportSecurity') ?? syntax.prop(helmetOptions, 'hsts') : undefined;
  const hstsFix = 'strictTransportSecurity: { maxAge: 63072000, includeSubDomains: true } in src/security/headers.ts';
  if (isFalse(hsts)) add('SRV006-hsts-weak', syntax.at(hsts!), 'HSTS is disabled (strictTransportSecurity: false)', hstsFix);
  if (tampered.has('strict-transport-security')) add('SRV006-hsts-weak', tampered.get('strict-transport-security')!, 'the Strict-Transport-Security header is deleted or overwritten', hstsFix);
  const hstsObj = resolveObj(hsts);
  if (hstsObj) {
    const maxAge = syntax.num(syntax.prop(hstsObj, 'maxAge'));
    if (maxAge === undefined || maxAge < 31536000) add('SRV006-hsts-weak', syntax.at(hstsObj), `HSTS max-age ${maxAge ?? '(not a constant)'} is below one year (31536000)`, hstsFix);
    if (isFalse(syntax.prop(hstsObj, 'includeSubDomains'))) add('SRV006-hsts-weak', syntax.at(hstsObj), 'HSTS without includeSubDomains', hstsFix);
  }

  // framing, nosniff, referrer
  const frameFix = "frame-ancestors 'none' in the CSP and xFrameOptions: { action: 'deny' }";
  if ((d.get('frame-ancestors') ?? []).join(' ') !== "'none'") add('SRV007-framing-allowed', where, "CSP frame-ancestors is not 'none' (the app can be framed: clickjacking)", frameFix);
  for (const [opt, header, label] of [
    ['xFrameOptions', 'x-frame-options', 'X-Frame-Options'],
    ['frameguard', 'x-frame-options', 'X-Frame-Options'],
    ['xContentTypeOptions', 'x-content-type-options', 'X-Content-Type-Options: nosniff'],
    ['noSniff', 'x-content-type-options', 'X-Content-Type-Options: nosniff'],
    ['referrerPolicy', 'referrer-policy', 'Referrer-Policy'],
  ] as const) {
    const v = helmetOptions ? syntax.prop(helmetOptions, opt) : undefined;
    if (isFalse(v)) add('SRV007-framing-allowed', syntax.at(v!), `${label} is disabled (${opt}: false)`, frameFix);
    if (tampered.has(header)) add('SRV007-framing-allowed', tampered.get(header)!, `the ${label} header is deleted or overwritten`, frameFix);
  }
  const xfo = helmetOptions ? resolveObj(syntax.prop(helmetOptions, 'xFrameOptions') ?? syntax.prop(helmetOptions, 'frameguard')) : undefined;
  const action = xfo ? syntax.str(syntax.prop(xfo, 'action'))?.toLowerCase() : undefined;
  if (xfo && action !== 'deny' && action !== 'sameorigin') add('SRV007-framing-allowed', syntax.at(xfo), `X-Frame-Options action ${action ?? '(computed)'}`, frameFix);
  return out;
}
