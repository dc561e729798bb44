/**
 * SRV009 of `xms check` (invariant I12): the password minimum of src/config.ts. PASSWORD_MIN_FLOOR is
 * defined, no length setting (PASSWORD_MIN_FLOOR, _DEFAULT, _LENGTH) nor the PASSWORD_MIN_LENGTH
 * default is below 12, and loadConfig refuses a configured minimum below the floor.
 */
import { join } from 'node:path';
import { finding, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';

const ID = 'SRV009-password-min-too-low';

export function checkPasswordMinimum(syntax: Syntax): Finding[] {
  const ts = syntax.ts;
  const out: Finding[] = [];
  const file = join(syntax.appDir, 'src', 'config.ts');
  const sf = syntax.file(file);
  const fix = 'PASSWORD_MIN_FLOOR = 12 and PASSWORD_MIN_DEFAULT = 15 in src/config.ts, and loadConfig refuses a PASSWORD_MIN_LENGTH below the floor';
  if (!sf) return [finding(ID, 'src/config.ts', 'the config module is missing', fix)];
  const consts = new Map<string, { value: number | undefined; at: string }>();
  let floorEnforced = false;
  let defaultArg: { value: number | undefined; at: string } | undefined;
  syntax.walk(sf, (n) => {
    // the length settings only (PASSWORD_MIN_FLOOR, _DEFAULT, _LENGTH): a PASSWORD_MIN_SCORE is not a length
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && /^PASSWORD_MIN(_FLOOR|_DEFAULT|_LENGTH)?$/.test(n.name.text)) {
      consts.set(n.name.text, { value: syntax.num(n.initializer), at: syntax.at(n) });
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.LessThanToken && /PASSWORD_MIN_FLOOR|\b1[2-9]\b/.test(n.right.getText()) && /passwordMin|minLength/i.test(n.left.getText())) floorEnforced = true;
    if (ts.isCallExpression(n) && syntax.str(n.arguments[1]) === 'PASSWORD_MIN_LENGTH' && n.arguments[2]) {
      const a = n.arguments[2];
      defaultArg = { value: ts.isIdentifier(a) ? consts.get(a.text)?.value : syntax.num(a), at: syntax.at(n) };
    }
  });
  const floor = consts.get('PASSWORD_MIN_FLOOR');
  if (!floor) out.push(finding(ID, syntax.rel(file), 'PASSWORD_MIN_FLOOR is not defined', fix));
  for (const [name, c] of consts) {
    if (c.value !== undefined && c.value < 12) out.push(finding(ID, c.at, `${name} is ${c.value}, below 12`, fix));
  }
  if (defaultArg && defaultArg.value !== undefined && defaultArg.value < 12) out.push(finding(ID, defaultArg.at, `the default password minimum is ${defaultArg.value}, below 12`, fix));
  if (!floorEnforced) out.push(finding(ID, syntax.rel(file), 'loadConfig does not refuse a password minimum below PASSWORD_MIN_FLOOR', fix));
  return out;
}
