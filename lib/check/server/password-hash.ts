/**
 * SRV017 of `xms check` (invariant I12): passwords are hashed with argon2id at OWASP's minimum cost.
 * src/security/passwords.ts must define ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost >= 19456,
 * timeCost >= 2, parallelism >= 1 } and hashPassword must call argon2.hash(password, ARGON2_OPTIONS),
 * with no other hash (bcrypt, SHA-*, scrypt, PBKDF2) in it; every function that writes a password_hash
 * (src/auth/accounts.ts) gets it from hashPassword. Read from the syntax tree (./syntax.ts).
 */
import { join } from 'node:path';
import type * as TS from 'typescript';
import { finding, Syntax } from '../syntax.js';
import type { Finding } from '../types.js';

const ID = 'SRV017-password-hash-weak';
const FILE = join('src', 'security', 'passwords.ts');
const FIX = 'ARGON2_OPTIONS = Object.freeze({ type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 }) and hashPassword returns argon2.hash(password, ARGON2_OPTIONS)';
/** OWASP's minimum for argon2id (m = 19 MiB, t = 2, p = 1). */
export const ARGON2_MINIMUM = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
const OTHER_HASHES = /^(createHash|createHmac|pbkdf2|pbkdf2Sync|scrypt|scryptSync|hashSync|genSalt|genSaltSync)$/;

export function checkPasswordHash(syntax: Syntax): Finding[] {
  const { ts } = syntax;
  const sf = syntax.source(FILE);
  if (!sf) return [finding(ID, FILE, 'the password module is missing: the password hash cannot be verified', 'restore src/security/passwords.ts from the template')];
  const out: Finding[] = [];
  const argon2Names = argon2Imports(syntax, sf);
  if (argon2Names.size === 0) out.push(finding(ID, FILE, 'src/security/passwords.ts does not import argon2', FIX));

  // ARGON2_OPTIONS
  const decl = syntax.constant(sf, 'ARGON2_OPTIONS');
  const options = decl?.initializer && optionsObject(syntax, decl.initializer);
  if (!decl) out.push(finding(ID, FILE, 'ARGON2_OPTIONS is not defined', FIX));
  else if (!options) out.push(finding(ID, syntax.at(decl), 'ARGON2_OPTIONS is not a literal object (its cost cannot be verified)', FIX));
  else out.push(...optionProblems(syntax, options, argon2Names).map((p) => finding(ID, syntax.at(decl), `ARGON2_OPTIONS: ${p}`, FIX)));

  // hashPassword(password) -> argon2.hash(password, ARGON2_OPTIONS)
  const fn = syntax.func(sf, 'hashPassword');
  if (!fn?.body) return [...out, finding(ID, FILE, 'hashPassword is not defined in src/security/passwords.ts', FIX)];
  const calls = syntax.all(fn.body, ts.isCallExpression);
  const hashes = calls.filter((c) => {
    const e = syntax.bare(c.expression);
    return ts.isPropertyAccessExpression(e) && e.name.text === 'hash' && ts.isIdentifier(e.expression) && argon2Names.has(e.expression.text);
  });
  for (const call of hashes) {
    const arg = call.arguments[1] && syntax.bare(call.arguments[1]);
    if (!arg) out.push(finding(ID, syntax.at(call), 'hashPassword calls argon2.hash without options: argon2\'s defaults, not the configured argon2id cost', FIX));
    else if (ts.isObjectLiteralExpression(arg)) out.push(...optionProblems(syntax, arg, argon2Names).map((p) => finding(ID, syntax.at(call), `hashPassword's argon2 options: ${p}`, FIX)));
    else if (!(ts.isIdentifier(arg) && arg.text === 'ARGON2_OPTIONS')) out.push(finding(ID, syntax.at(call), `hashPassword passes ${arg.getText()} instead of ARGON2_OPTIONS`, FIX));
  }
  if (hashes.length === 0) out.push(finding(ID, syntax.at(fn), 'hashPassword does not hash with argon2.hash(password, ARGON2_OPTIONS)', FIX));
  out.push(...passwordWrites(syntax));
  for (const call of calls.filter((c) => otherHash(syntax, c, argon2Names))) {
    out.push(finding(ID, syntax.at(call), `hashPassword hashes with ${call.expression.getText()} (not argon2id): fast or weaker hashes let a stolen table be cracked`, FIX));
  }
  return out;
}

/** A call to a hash other than argon2 (createHash, scrypt, PBKDF2, bcrypt). */
function otherHash(syntax: Syntax, call: TS.CallExpression, argon2Names: Set<string>): boolean {
  const { ts } = syntax;
  const name = syntax.calleeName(call);
  const e = syntax.bare(call.expression);
  const onArgon2 = ts.isPropertyAccessExpression(e) && ts.isIdentifier(e.expression) && argon2Names.has(e.expression.text);
  return Boolean(name && !onArgon2 && (OTHER_HASHES.test(name) || (name === 'hash' && /bcrypt/i.test(e.getText()))));
}

/** Every function that writes a password_hash must take it from hashPassword, and hash nothing else. */
function passwordWrites(syntax: Syntax): Finding[] {
  const { ts } = syntax;
  const out: Finding[] = [];
  for (const file of syntax.sourcesMentioning('password_hash')) {
    const sf = syntax.source(file);
    if (!sf) continue;
    const argon2Names = argon2Imports(syntax, sf);
    const seen = new Set<TS.Node>();
    for (const literal of syntax.all(sf, (n): n is TS.StringLiteral | TS.NoSubstitutionTemplateLiteral | TS.TemplateExpression => ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateExpression(n))) {
      const sql = ts.isTemplateExpression(literal) ? literal.getText() : literal.text;
      if (!/\binsert\s+into\b[\s\S]*\bpassword_hash\b|\bset\s+password_hash\s*=/i.test(sql)) continue;
      const owner = syntax.topLevel(literal);
      if (seen.has(owner)) continue;
      seen.add(owner);
      const calls = syntax.all(owner, ts.isCallExpression);
      for (const call of calls.filter((c) => otherHash(syntax, c, argon2Names))) {
        out.push(finding(ID, syntax.at(call), `a password_hash is written next to ${call.expression.getText()}: a fast or weaker hash instead of hashPassword (argon2id)`, 'hash the password with hashPassword (src/security/passwords.ts) and store that'));
      }
      if (!calls.some((c) => syntax.calleeName(c) === 'hashPassword')) {
        out.push(finding(ID, syntax.at(literal), 'this password_hash write does not come from hashPassword (argon2id)', 'hash the password with hashPassword (src/security/passwords.ts) and store that'));
      }
    }
  }
  return out;
}

/** Local names bound to the argon2 module (default or namespace import). */
function argon2Imports(syntax: Syntax, sf: TS.SourceFile): Set<string> {
  const { ts } = syntax;
  const names = new Set<string>();
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier) || st.moduleSpecifier.text !== 'argon2' || !st.importClause) continue;
    if (st.importClause.name) names.add(st.importClause.name.text);
    const bindings = st.importClause.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text);
  }
  return names;
}

/** The object literal of `{...}`, `Object.freeze({...})` or `{...} as const`. */
function optionsObject(syntax: Syntax, init: TS.Expression): TS.ObjectLiteralExpression | undefined {
  const { ts } = syntax;
  const e = syntax.bare(init);
  if (ts.isObjectLiteralExpression(e)) return e;
  if (ts.isCallExpression(e) && syntax.calleeName(e) === 'freeze' && e.arguments[0]) return optionsObject(syntax, e.arguments[0]);
  return undefined;
}

function optionProblems(syntax: Syntax, options: TS.ObjectLiteralExpression, argon2Names: Set<string>): string[] {
  const { ts } = syntax;
  const problems: string[] = [];
  const type = options && syntax.prop(options, 'type');
  const bareType = type && syntax.bare(type);
  const isArgon2id = bareType && ts.isPropertyAccessExpression(bareType) && bareType.name.text === 'argon2id' && ts.isIdentifier(bareType.expression) && argon2Names.has(bareType.expression.text);
  // argon2.argon2id is 2; a literal 2 is the same type
  if (!isArgon2id && !(bareType && syntax.evaluate(bareType) === 2)) problems.push(`type is ${type ? type.getText() : 'unset'}, not argon2.argon2id`);
  for (const [key, min] of Object.entries(ARGON2_MINIMUM)) {
    const v = syntax.prop(options, key);
    const n = v ? syntax.evaluate(v) : undefined;
    if (typeof n !== 'number' || n < min) problems.push(`${key} is ${v ? v.getText() : 'unset'}, below ${min}`);
  }
  if (options.properties.some((p) => ts.isSpreadAssignment(p))) problems.push('a spread may override the cost (list every option literally)');
  return problems;
}
