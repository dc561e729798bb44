import { request } from './api.js';

/** The second factor's API (src/routes/api/mfa.ts, src/routes/public/login-mfa.ts), through api.ts. */
export interface MfaStatus {
  enrolled: boolean;
  required: boolean;
  recoveryCodesLeft: number;
}

export interface Enrolment {
  /** the base32 key, for typing into an app that cannot scan */
  secret: string;
  /** the QR code of the otpauth:// URI: an SVG data URL (the CSP allows data: images) */
  qr: string;
}

export const mfaApi = {
  status: () => request<MfaStatus>('GET', '/api/mfa'),
  start: () => request<Enrolment>('POST', '/api/mfa/enrol'),
  confirm: (code: string) => request<{ recoveryCodes: string[] }>('POST', '/api/mfa/enrol/confirm', { code }),
  newRecoveryCodes: (code: string) => request<{ recoveryCodes: string[] }>('POST', '/api/mfa/recovery-codes', { code }),
  remove: (proof: { code: string } | { password: string }) => request<MfaStatus>('POST', '/api/mfa/remove', proof),
  /** the second step of a log-in: a TOTP code or a recovery code */
  loginStep: (code: string) => request<{ user: { id: string } }>('POST', '/api/auth/login/mfa', { code }),
};
