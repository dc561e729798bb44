/**
 * The SPA's only way to reach the server.
 *
 * - Same origin only: every path is relative ("/api/..."), so the session cookie
 *   (`__Host-session`, HttpOnly) is sent by the browser and never seen by JavaScript. Nothing here
 *   reads, stores or forwards a token: no localStorage, no sessionStorage, no Authorization header.
 * - `credentials: 'same-origin'` and `mode: 'same-origin'`: a request to another origin fails
 *   instead of leaking the cookie; the browser adds `Origin` / `Sec-Fetch-Site: same-origin` to every
 *   write, which is what the server's CSRF hook checks.
 * - `cache: 'no-store'`: API answers carry personal data.
 *
 * The browser gates of this SPA (admin pages shown to admins only) are UX: the server checks the
 * session's role on every admin route (invariant I16).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

function apiPath(path: string): string {
  if (!path.startsWith('/api/')) throw new Error(`not an API path: ${path}`);
  return path;
}

async function send<T>(method: Method, path: string, body?: BodyInit, headers: Record<string, string> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(apiPath(path), {
      method,
      body,
      headers: { accept: 'application/json', ...headers },
      credentials: 'same-origin',
      mode: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch {
    throw new ApiError(0, 'network_error', 'The server cannot be reached.');
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!response.ok) {
    const error = (data ?? {}) as { error?: string; message?: string };
    const message =
      response.status === 429
        ? tooManyMessage(response.headers.get('retry-after'))
        : typeof error.message === 'string' && error.message
          ? error.message
          : `Request failed (${response.status}).`;
    throw new ApiError(response.status, typeof error.error === 'string' ? error.error : 'http_error', message, data);
  }
  return data as T;
}

/** The rate-limit message, saying when to try again (the server's Retry-After, in seconds). */
export function tooManyMessage(retryAfter: string | null): string {
  const seconds = Number(retryAfter);
  if (!retryAfter || !Number.isFinite(seconds) || seconds <= 0) return 'Too many attempts; try again later.';
  if (seconds < 90) return `Too many attempts; try again in ${Math.ceil(seconds)} second${Math.ceil(seconds) === 1 ? '' : 's'}.`;
  const minutes = Math.ceil(seconds / 60);
  const at = new Date(Date.now() + seconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return `Too many attempts; try again in ${minutes} minutes (at ${at}).`;
}

export function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  if (body === undefined) return send<T>(method, path);
  return send<T>(method, path, JSON.stringify(body), { 'content-type': 'application/json' });
}

export function upload<T>(path: string, form: FormData): Promise<T> {
  // multipart: the browser sets the content type with its boundary
  return send<T>('POST', path, form);
}

/**
 * A multipart upload that reports the bytes sent: fetch cannot (yet) report upload progress, so this
 * one request goes through XMLHttpRequest, under the same rules as send(): same origin (a relative
 * API path; the browser adds Origin and the cookie), no redirects followed, the same error answers.
 */
export function uploadWithProgress<T>(path: string, form: FormData, onUpload: (sent: number, total: number) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiPath(path));
    xhr.setRequestHeader('accept', 'application/json');
    xhr.responseType = 'text';
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onUpload(event.loaded, event.total);
    };
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'The server cannot be reached.'));
    xhr.onload = () => {
      if (xhr.responseURL && new URL(xhr.responseURL).pathname !== new URL(path, window.location.href).pathname) {
        reject(new ApiError(0, 'redirected', 'The server answered from another address.'));
        return;
      }
      let data: unknown = undefined;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        data = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(data as T);
      const error = (data ?? {}) as { error?: string; message?: string };
      const message =
        xhr.status === 429
          ? tooManyMessage(xhr.getResponseHeader('retry-after'))
          : typeof error.message === 'string' && error.message
            ? error.message
            : `Request failed (${xhr.status}).`;
      reject(new ApiError(xhr.status, typeof error.error === 'string' ? error.error : 'http_error', message, data));
    };
    xhr.send(form);
  });
}

// ---------------------------------------------------------------------------------------------
// The API shapes the SPA uses (src/routes/**). Keep them in this one place.
// ---------------------------------------------------------------------------------------------

export interface User {
  id: string;
  email: string | null;
  displayName: string | null;
  tenantId: string;
  role: string;
  /** a second factor is required and not set up: only the enrolment is reachable */
  mfaEnrolmentRequired?: boolean;
}

export interface RecordRow {
  id: string;
  title: string;
  body: string;
  ownerId?: string;
  createdAt?: string;
  updatedAt?: string;
}

/** GET /api/auth/password-policy: what the server requires of a new password (src/config.ts). */
export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
  /** zxcvbn-ts score 0-4 */
  minScore: number;
}

export interface Member {
  id: string;
  /** the account's address, or the invitee's */
  email: string | null;
  displayName: string | null;
  role: string;
  /** pending / expired: an invitation not accepted (yet) */
  status: 'active' | 'deactivated' | 'pending' | 'expired';
  active: boolean;
  invitationExpiresAt: string | null;
}

/** One of the user's tenants (log-in's tenant choice, GET /api/tenants). */
export interface TenantOption {
  id: string;
  name: string;
  role: string;
}

/** GET /api/sessions: one of the caller's live sessions. */
export interface SessionInfo {
  id: string;
  current: boolean;
  userAgent: string | null;
  createdAt: string;
  lastSeenAt: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  actorId: string | null;
  /** the actor's e-mail when they are a member of this tenant */
  actorEmail: string | null;
  action: string;
  table: string;
  rowKey: string | null;
  oldRow: unknown;
  newRow: unknown;
}

/** GET /api/admin/audit filters (all applied on the server); `before` is the `next` of the previous page. */
export interface AuditFilter {
  table?: string;
  actor?: string;
  action?: '' | 'INSERT' | 'UPDATE' | 'DELETE';
  /** ISO 8601 */
  from?: string;
  to?: string;
  before?: string | null;
  limit?: number;
}

/** GET /api/imports/progress/:id: how far the server is with the caller's running import. */
export interface ImportProgress {
  phase: 'staging' | 'inserting' | 'done';
  /** data rows read (and checked) so far */
  rows: number;
}

/** POST /api/imports/:table (the csv-import feature): 200 with this report; 422 with `invalid`. */
export interface ImportResult {
  table?: string;
  rows?: number;
  inserted?: number;
  duplicates?: { inFile?: number; existing?: number; file?: boolean };
  invalid?: { line: number; reason: string }[];
  invalidCount?: number;
}

/** GET /api/<table>: one keyset page, newest first; `next` is the cursor of the following page (null at the end). */
export interface Page<T> {
  rows: T[];
  /** the rows the caller may see that match the search */
  total: number;
  next: string | null;
}

export interface PageQuery {
  limit?: number;
  after?: string | null;
  q?: string;
}

function pageUrl(path: string, query: PageQuery): string {
  const params = new URLSearchParams();
  if (query.limit) params.set('limit', String(query.limit));
  if (query.after) params.set('after', query.after);
  if (query.q) params.set('q', query.q);
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

/** Accepts `{ <key>: [...] }`, `{ rows: [...] }` or a bare array. */
function list<T>(data: unknown, key: string): T[] {
  if (Array.isArray(data)) return data as T[];
  const object = (data ?? {}) as Record<string, unknown>;
  const value = object[key] ?? object.rows ?? object.items;
  return Array.isArray(value) ? (value as T[]) : [];
}

function one<T>(data: unknown, key: string): T {
  const object = (data ?? {}) as Record<string, unknown>;
  return (object[key] ?? data) as T;
}

/** snake_case or camelCase rows from the server -> RecordRow */
function toRecord(row: Record<string, unknown>): RecordRow {
  return {
    id: String(row.id),
    title: String(row.title ?? ''),
    body: String(row.body ?? ''),
    ownerId: (row.ownerId ?? row.owner_id) as string | undefined,
    createdAt: (row.createdAt ?? row.created_at) as string | undefined,
    updatedAt: (row.updatedAt ?? row.updated_at) as string | undefined,
  };
}

/** A display string for a value that may be JSON (row keys are jsonb). */
function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function toAudit(row: Record<string, unknown>): AuditEntry {
  return {
    id: String(row.id ?? ''),
    at: String(row.at ?? row.createdAt ?? row.created_at ?? ''),
    actorId: text(row.actorId ?? row.actor_id),
    actorEmail: text(row.actorEmail ?? row.actor_email),
    action: String(row.action ?? ''),
    table: String(row.table ?? row.tableName ?? row.table_name ?? ''),
    rowKey: text(row.rowKey ?? row.row_key),
    oldRow: row.oldRow ?? row.old_row ?? null,
    newRow: row.newRow ?? row.new_row ?? null,
  };
}

const id = (value: string) => encodeURIComponent(value);

export const api = {
  me: async () => one<User>(await request('GET', '/api/me'), 'user'),
  /** 409 choose_tenant (details.tenants: TenantOption[]) when the user belongs to several tenants and named none */
  login: (email: string, password: string, tenantId?: string) =>
    request<{ user: Pick<User, 'id' | 'tenantId' | 'role'> }>('POST', '/api/auth/login', { email, password, ...(tenantId ? { tenantId } : {}) }),
  signup: (input: { email: string; password: string; tenantName: string; displayName?: string }) =>
    request<{ status: string; message: string }>('POST', '/api/auth/signup', input),
  logout: () => request<void>('POST', '/api/auth/logout'),
  passwordPolicy: () => request<PasswordPolicy>('GET', '/api/auth/password-policy'),
  resetPassword: (token: string, password: string) => request<{ message: string }>('POST', '/api/auth/password-reset', { token, password }),
  forgotPassword: (email: string) => request<{ status: string; message: string }>('POST', '/api/auth/password-forgot', { email }),
  verifyEmail: (token: string) => request<{ status: string; email: string; purpose: 'signup' | 'change' }>('POST', '/api/auth/verify-email', { token }),
  resendVerification: (email: string) => request<{ status: string; message: string }>('POST', '/api/auth/verify-email/resend', { email }),

  /** 202: the new address takes effect when its e-mailed link is followed; the current one is told */
  changeEmail: (email: string, password: string) => request<{ status: string; message: string }>('POST', '/api/account/email', { email, password }),

  tenants: {
    list: async () => list<TenantOption & { current: boolean }>(await request('GET', '/api/tenants'), 'tenants'),
    switch: (tenantId: string) => request<{ user: Pick<User, 'id' | 'tenantId' | 'role'> }>('POST', '/api/tenants/switch', { tenantId }),
  },

  sessions: {
    list: async () => list<SessionInfo>(await request('GET', '/api/sessions'), 'sessions'),
    end: (sessionId: string) => request<void>('DELETE', `/api/sessions/${encodeURIComponent(sessionId)}`),
    endOthers: () => request<{ ended: number }>('POST', '/api/sessions/revoke-others'),
  },

  records: {
    page: async (query: PageQuery = {}): Promise<Page<RecordRow>> => {
      const page = await request<Page<Record<string, unknown>>>('GET', pageUrl('/api/records', query));
      return { rows: page.rows.map(toRecord), total: page.total, next: page.next };
    },
    create: async (input: { title: string; body: string }) => toRecord(one(await request('POST', '/api/records', input), 'record')),
    update: async (recordId: string, input: { title: string; body: string }) =>
      toRecord(one(await request('PATCH', `/api/records/${id(recordId)}`, input), 'record')),
    remove: (recordId: string) => request<void>('DELETE', `/api/records/${id(recordId)}`),
  },

  admin: {
    users: async () => list<Member>(await request('GET', '/api/admin/users'), 'users'),
    createUser: (input: { email: string; role: string; displayName?: string }) =>
      request<{ user: { id: string; email: string; role: string }; invitationExpiresAt: string; expiresInHours: number }>('POST', '/api/admin/users', input),
    resendInvitation: (userId: string) => request<{ invitationExpiresAt: string }>('POST', `/api/admin/users/${id(userId)}/invitation`),
    revokeInvitation: (userId: string) => request<void>('DELETE', `/api/admin/users/${id(userId)}/invitation`),
    setRole: (userId: string, role: string) => request<{ id: string; role: string }>('PUT', `/api/admin/users/${id(userId)}/role`, { role }),
    deactivate: (userId: string) => request<{ id: string; active: boolean }>('POST', `/api/admin/users/${id(userId)}/deactivate`),
    remove: (userId: string) => request<void>('DELETE', `/api/admin/users/${id(userId)}`),
    resetPassword: (userId: string) => request<{ sent: 'reset' | 'invitation'; expiresAt: string }>('POST', `/api/admin/users/${id(userId)}/password-reset`),
    audit: async (filter: AuditFilter = {}): Promise<{ entries: AuditEntry[]; next: string | null }> => {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(filter)) if (value) params.set(key, String(value));
      const search = params.toString();
      const data = await request<{ entries: Record<string, unknown>[]; next?: string | null }>('GET', `/api/admin/audit${search ? `?${search}` : ''}`);
      return { entries: list<Record<string, unknown>>(data, 'entries').map(toAudit), next: data.next ?? null };
    },
  },

  importCsv: (path: string, file: File, options: { progressId?: string; onUpload?: (sent: number, total: number) => void } = {}) => {
    const form = new FormData();
    form.append('file', file, file.name);
    const url = options.progressId ? `${path}?progress=${encodeURIComponent(options.progressId)}` : path;
    return options.onUpload ? uploadWithProgress<ImportResult>(url, form, options.onUpload) : upload<ImportResult>(url, form);
  },
  importProgress: (progressId: string) => request<ImportProgress>('GET', `/api/imports/progress/${encodeURIComponent(progressId)}`),
};
