/**
 * SRV008 of `xms check` (invariant I9): the session cookie set in src/auth/sessions.ts is httpOnly,
 * Secure, SameSite lax or strict, Path /, no Domain, named with the __Host- prefix; and the Secure
 * default of src/config.ts (COOKIE_SECURE) is not false.
 */
import { join } from 'node:path';
import { finding, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';

const ID = 'SRV008-cookie-insecure';

export function checkCookies(syntax: Syntax): Finding[] {
  const ts = syntax.ts;
  const out: Finding[] = [];
  const add = (object: string, message: string, fix: string) => out.push(finding(ID, object, message, fix));
  const file = join(syntax.appDir, 'src', 'auth', 'sessions.ts');
  const sf = syntax.file(file);
  const fix = "serializeCookie(name, token, { httpOnly: true, secure: config.cookieSecure, sameSite: 'lax', path: '/' }) with the __Host- prefix";
  if (!sf) return [finding(ID, 'src/auth/sessions.ts', 'the session module is missing', 'restore src/auth/sessions.ts')];
  let calls = 0;
  let hostPrefix = false;
  syntax.walk(sf, (n) => {
    const s = syntax.str(n);
    if (s?.startsWith('__Host-')) hostPrefix = true;
    if (!ts.isCallExpression(n)) return;
    const name = syntax.calleeName(n);
    if (name !== 'serializeCookie' && name !== 'serialize' && name !== 'setCookie') return;
    const opts = n.arguments[2];
    if (!opts || !ts.isObjectLiteralExpression(opts)) {
      add(syntax.at(n), 'session cookie options are not a literal object (cannot be verified)', fix);
      return;
    }
    calls++;
    const httpOnly = syntax.prop(opts, 'httpOnly');
    if (!httpOnly || httpOnly.kind !== ts.SyntaxKind.TrueKeyword) add(syntax.at(opts), 'session cookie without httpOnly: true (scripts could read the token)', fix);
    const secure = syntax.prop(opts, 'secure');
    if (!secure || secure.kind === ts.SyntaxKind.FalseKeyword) add(syntax.at(opts), 'session cookie without Secure', fix);
    const sameSite = syntax.prop(opts, 'sameSite');
    const ss = syntax.str(sameSite)?.toLowerCase();
    if (!(ss === 'lax' || ss === 'strict' || sameSite?.kind === ts.SyntaxKind.TrueKeyword)) add(syntax.at(opts), `session cookie SameSite is ${ss ?? (sameSite ? sameSite.getText() : 'unset')}`, fix);
    if (syntax.str(syntax.prop(opts, 'path')) !== '/') add(syntax.at(opts), 'session cookie Path is not / (the __Host- prefix requires it)', fix);
    if (syntax.prop(opts, 'domain')) add(syntax.at(opts), 'session cookie sets Domain (the __Host- prefix forbids it: subdomains would receive the token)', fix);
  });
  if (calls === 0) add(syntax.rel(file), 'no session cookie is set in src/auth/sessions.ts', fix);
  if (!hostPrefix) add(syntax.rel(file), 'the session cookie name has no __Host- prefix', fix);
  // the Secure default (COOKIE_SECURE) in config
  const config = syntax.file(join(syntax.appDir, 'src', 'config.ts'));
  if (config) {
    syntax.walk(config, (n) => {
      if (ts.isCallExpression(n) && syntax.str(n.arguments[1]) === 'COOKIE_SECURE' && n.arguments[2]?.kind === ts.SyntaxKind.FalseKeyword) {
        add(syntax.at(n), 'COOKIE_SECURE defaults to false', 'default COOKIE_SECURE to true (production refuses false)');
      }
    });
  }
  return out;
}
