import { request } from './api.js';

/** An invitation's link (src/routes/public/invitation.ts), through api.ts. */
export interface InvitationInfo {
  email: string;
  tenantName: string;
  /** the address has an account: it joins with its password; otherwise it chooses one */
  existingAccount: boolean;
}

export const invitationApi = {
  /** what the link is for; 400 invalid_token when it is unknown, used or expired */
  info: (token: string) => request<InvitationInfo>('POST', '/api/auth/invitation', { token }),
  /** an existing account joins; 401 mfa_required when it has a second factor and no code was given */
  join: (token: string, password: string, code?: string) =>
    request<{ mfaEnrolmentRequired: boolean; tenant: { name: string } }>('POST', '/api/auth/invitation/join', { token, password, ...(code ? { code } : {}) }),
};
