import { createHash, randomBytes } from 'node:crypto';

/**
 * Opaque secrets (session and reset tokens): 256 random bits, base64url. Only their SHA-256 is
 * stored; the database helpers hash the same way: sha256(convert_to(token, 'UTF8')).
 */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A token has the shape newToken() produces (43 base64url characters); anything else is not looked up. */
export function isWellFormedToken(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value);
}
