import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import argon2 from 'argon2';

/**
 * Password policy and hashing (invariant I12), following NIST SP 800-63B-4:
 * - a minimum length (default 15, configurable, never below 12: src/config.ts refuses lower);
 * - at least 64 characters allowed (we allow up to 256), no composition rules;
 * - refused when on the common-password list (data/common-passwords.txt) or containing the e-mail
 *   address or its local part;
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

/** Returns a reason the password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string, email: string, minLength: number): string | undefined {
  const length = [...password].length;
  if (length < minLength) return `The password must be at least ${minLength} characters long.`;
  if (length > PASSWORD_MAX_LENGTH) return `The password must be at most ${PASSWORD_MAX_LENGTH} characters long.`;
  const lower = password.toLowerCase();
  if (loadCommonPasswords().has(lower)) return 'This password is too common; choose another one.';
  const address = email.trim().toLowerCase();
  const local = address.split('@')[0] ?? '';
  if ((address && lower.includes(address)) || (local.length >= 3 && lower.includes(local))) {
    return 'The password must not contain your e-mail address.';
  }
  return undefined;
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
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
