import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import argon2 from 'argon2';
import { loadOnce } from '../load-once.js';

/**
 * Password policy and hashing (invariant I12), following NIST SP 800-63B-4:
 * - a minimum length (default 15, configurable, never below 12: src/config.ts refuses lower);
 * - at least 64 characters allowed (we allow up to 256), no composition rules;
 * - refused when on the common-password list (data/common-passwords.txt) or containing the e-mail
 *   address or its local part;
 * - refused when zxcvbn-ts estimates it below a minimum score (default 3 of 0-4, PASSWORD_MIN_SCORE):
 *   length alone is not strength ("111112222233333", 15 spaces, the alphabet, a keyboard row);
 * - hashed with argon2id, m = 19456 KiB, t = 2, p = 1 (OWASP's minimum for argon2id).
 */
export const PASSWORD_MAX_LENGTH = 256;

export const ARGON2_OPTIONS = Object.freeze({
  type: argon2.argon2id,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
});

let commonPasswords: Set<string> | undefined;

/** The bundled list, loaded once (10k+ entries, lower case). */
export function loadCommonPasswords(): Set<string> {
  if (!commonPasswords) {
    // src/security/ when run from source, dist/src/security/ when built: data/ is at the project root
    const file = ['../../data/common-passwords.txt', '../../../data/common-passwords.txt']
      .map((path) => fileURLToPath(new URL(path, import.meta.url)))
      .find((path) => existsSync(path));
    if (!file) throw new Error('data/common-passwords.txt is missing: it ships with the app and must be deployed with it');
    commonPasswords = new Set(
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line) => line.trim().toLowerCase())
        .filter((line) => line !== '' && !line.startsWith('#')),
    );
  }
  return commonPasswords;
}

/**
 * zxcvbn-ts evaluates at most this many characters. Its matchers grow steeply with the length (a
 * 256-character password full of l33t-like symbols takes seconds), and the estimate is an attacker's
 * guess count, which past 100 characters is far above any minimum score anyway: so a long password
 * must be strong within its first 100 characters. Together with l33tMaxSubstitutions below, the
 * worst case stays well under a second (test/http/accounts.test.ts measures 256 characters).
 */
export const STRENGTH_EVALUATED_CHARS = 100;

/**
 * The estimator with its dictionaries and keyboard graphs, built once. Production builds it at
 * start-up (src/server/app.ts), never in a request; development on the first password it checks, so
 * `npm run dev` does not wait half a second for dictionaries a session may never use. While it cannot
 * load, the check fails: a password is never let through unestimated.
 */
export const loadStrengthEstimator = loadOnce(async () => {
  const [{ ZxcvbnFactory }, common, en] = await Promise.all([
    import('@zxcvbn-ts/core'),
    import('@zxcvbn-ts/language-common'),
    import('@zxcvbn-ts/language-en'),
  ]);
  return new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...en.dictionary },
    graphs: common.adjacencyGraphs,
    translations: en.translations,
    // the default (100) lets a symbol-heavy password cost seconds of CPU; 3 still finds the usual
    // substitutions (p@$$w0rd, m0nk3y, 5up3rm4n score as with 100)
    l33tMaxSubstitutions: 3,
  });
});

export interface PasswordPolicy {
  minLength: number;
  minScore: number;
}

/** Returns a reason the password is refused (what would pass, too), or undefined when it is acceptable. */
export async function passwordProblem(password: string, email: string, policy: PasswordPolicy): Promise<string | undefined> {
  const length = [...password].length;
  if (length < policy.minLength) return `The password must be at least ${policy.minLength} characters long; a phrase of several unrelated words is easiest.`;
  if (length > PASSWORD_MAX_LENGTH) return `The password must be at most ${PASSWORD_MAX_LENGTH} characters long.`;
  const lower = password.toLowerCase();
  if (loadCommonPasswords().has(lower)) return 'This password is too common; choose another one, such as a phrase of several unrelated words.';
  const address = email.trim().toLowerCase();
  const local = address.split('@')[0] ?? '';
  if ((address && lower.includes(address)) || (local.length >= 3 && lower.includes(local))) {
    return 'The password must not contain your e-mail address.';
  }
  const result = (await loadStrengthEstimator()).check([...password].slice(0, STRENGTH_EVALUATED_CHARS).join(''), [address, local]);
  if (result.score < policy.minScore) {
    const why = result.feedback.warning ?? 'This password is easy to guess.';
    const hints = result.feedback.suggestions.length > 0 ? ` ${result.feedback.suggestions.join(' ')}` : '';
    return `This password is too easy to guess (strength ${result.score} of 4, at least ${policy.minScore} needed): ${why}${hints} A phrase of several unrelated words passes.`;
  }
  return undefined;
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

/**
 * How many argon2 verifications this process has run (a metric: the rate-limit tests read it to
 * prove that limited attempts never reach the hash).
 */
export let passwordVerifications = 0;

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  passwordVerifications++;
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;
/**
 * Spends the same time as a real verification when the account does not exist, so response times
 * do not reveal whether an e-mail is registered.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummyHash ??= hashPassword('xms-dummy-password-for-timing-only');
  await verifyPassword(await dummyHash, password);
  return false;
}
