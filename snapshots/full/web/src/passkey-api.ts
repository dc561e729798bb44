import { startAuthentication, startRegistration } from '@simplewebauthn/browser';
import { request } from './api.js';
import type { MfaStatus } from './mfa-api.js';

/** Passkeys as a second factor (src/routes/api/passkeys.ts, src/routes/public/login-mfa.ts), through api.ts. */
export interface Passkey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** GET /api/mfa: the TOTP factor and the passkeys; `enrolled` is any second factor. */
export interface SecondFactors extends MfaStatus {
  totp: boolean;
  passkeys: Passkey[];
}

export const passkeyApi = {
  status: () => request<SecondFactors>('GET', '/api/mfa'),
  /** Registers a passkey: the server's options, the browser's dialog, the server's verification. */
  async register(name: string): Promise<{ recoveryCodes?: string[] }> {
    const optionsJSON = await request<Parameters<typeof startRegistration>[0]['optionsJSON']>('POST', '/api/mfa/passkeys/register/options');
    const response = await startRegistration({ optionsJSON });
    return request('POST', '/api/mfa/passkeys/register', { name, response });
  },
  remove: (id: string, proof: { code: string } | { password: string }) => request<SecondFactors>('POST', `/api/mfa/passkeys/${encodeURIComponent(id)}/remove`, proof),
  /** The second step of a log-in with a passkey: the challenge of this log-in, the browser's dialog, the server's check. */
  async loginStep(): Promise<{ user: { id: string } }> {
    const optionsJSON = await request<Parameters<typeof startAuthentication>[0]['optionsJSON']>('POST', '/api/auth/login/passkey/options');
    const passkey = await startAuthentication({ optionsJSON });
    return request('POST', '/api/auth/login/mfa', { passkey });
  },
};
