/**
 * Start-up configuration, read once from the environment and validated (invariant I15).
 *
 * `loadConfig()` refuses a malformed value in every environment and, in production, an insecure one,
 * each with a one-line reason. `assertDatabaseRoleSafe()` adds the checks that need the database
 * (the runtime login role must not be superuser, BYPASSRLS or own tables); `src/server/index.ts`
 * runs both before it listens.
 *
 * Defaults (documented in the README "Security model"):
 *   PASSWORD_MIN_LENGTH     15 (NIST SP 800-63B-4, single factor); never below 12
 *   PASSWORD_MIN_SCORE      3  (zxcvbn-ts strength estimate, 0-4); never below 3 in production
 *   SESSION_IDLE_MINUTES    30  (a session unused this long is dead); at most 1440 (24 h)
 *   SESSION_ABSOLUTE_HOURS  12  (a session older than this is dead, however active); at most 720 (30 days)
 *   TRUST_PROXY             false (X-Forwarded-For is ignored; the socket address is the client);
 *                           never every address (0.0.0.0/0, ::/0), and never `true` in production
 *   COOKIE_SECURE           true  (the session cookie is `__Host-session`, Secure)
 *   LOG_LEVEL               info  (JSON lines; error at the quietest, so every 5xx is logged)
 *   MFA_REQUIRED_FOR        admin (who must have a second factor: admin, all or none; the others may
 *                           enrol); a user who must and has none gets a session that can only enrol
 *   SMTP_URL                unset: development prints each message (and its links) on the console;
 *                           production refuses to start without it (password resets and invitations
 *                           travel by e-mail). smtp:// (STARTTLS when offered) or smtps://
 *   MAIL_FROM               no-reply@<APP_ORIGIN host> (the From of every message)
 *   APP_NAME                the APP_ORIGIN host (how e-mails name the app)
 *   DATABASE_POOL_MAX       10 (node-postgres's default): connections per server process, 1-1000
 */
export interface AppConfig {
  env: 'development' | 'test' | 'production';
  host: string;
  port: number;
  databaseUrl: string | undefined;
  /** DATABASE_POOL_MAX: the connections each server process keeps to PostgreSQL. */
  databasePoolMax: number;
  /** Public origin of the app (`https://app.example.com`); CSRF compares Origin with it, passkeys are bound to its host (the RP ID). Unset: the request's Host. */
  origin: string | undefined;
  /** Fastify's trustProxy: false, a hop count, or a list of proxy addresses/CIDRs. Never `true` in production. */
  trustProxy: boolean | number | string[];
  cookieSecure: boolean;
  passwordMinLength: number;
  /** Minimum zxcvbn-ts score (0-4) a new password must reach. */
  passwordMinScore: number;
  sessionIdleMinutes: number;
  sessionAbsoluteHours: number;
  /** Failed log-ins (and sign-ups, resets) allowed per window, per account and per client IP. */
  authLimit: { perAccount: number; perIp: number; windowSeconds: number };
  /** General API limit per client IP. */
  apiLimit: { points: number; windowSeconds: number };
  /** Server logging (src/server/logging.ts): on except in tests. */
  logger: boolean;
  /** LOG_LEVEL: info by default (one line per request; every 5xx at error). */
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  /** Who must have a second factor (src/auth/mfa.ts): the admins (default), every user, or nobody. */
  mfaRequiredFor: 'admin' | 'all' | 'none';
  /** Outgoing e-mail (src/mail/mailer.ts): an SMTP server, or (not in production) the console. */
  mail: { smtpUrl: string | undefined; from: string; appName: string };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The absolute floor of the password minimum: config refuses anything lower, in every environment. */
export const PASSWORD_MIN_FLOOR = 12;
export const PASSWORD_MIN_DEFAULT = 15;
/** zxcvbn-ts score: 3 is "safely unguessable" (about 10^10 guesses); production refuses lower. */
export const PASSWORD_SCORE_DEFAULT = 3;
export const PASSWORD_SCORE_PRODUCTION_FLOOR = 3;

function int(env: NodeJS.ProcessEnv, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${key} must be an integer between ${min} and ${max} (got "${raw}")`);
  }
  return value;
}

/**
 * DATABASE_POOL_MAX, validated: node-postgres would take a negative count as a pool that is always full
 * (every query waits forever) and anything else that is not a number as its default, silently.
 */
export function databasePoolMax(env: NodeJS.ProcessEnv = process.env): number {
  return int(env, 'DATABASE_POOL_MAX', 10, 1, 1000);
}

function bool(env: NodeJS.ProcessEnv, key: string, fallback: boolean): boolean {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${key} must be true or false (got "${raw}")`);
}

function parseTrustProxy(raw: string | undefined): boolean | number | string[] {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const list = raw.split(',').map((item) => item.trim()).filter(Boolean);
  for (const item of list) {
    if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(item) && !['loopback', 'linklocal', 'uniquelocal'].includes(item)) {
      throw new ConfigError(`TRUST_PROXY must be false, a hop count, or proxy addresses/CIDRs (got "${item}")`);
    }
    // a /0 range (0.0.0.0/0, ::/0) trusts every address: as spoofable as TRUST_PROXY=true
    if (/\/0+$/.test(item)) throw new ConfigError(`TRUST_PROXY must list the proxies, not every address (got "${item}")`);
  }
  return list;
}

// error is the quietest level allowed: every 5xx must reach the log
const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
function logLevel(raw: string | undefined): AppConfig['logLevel'] {
  if (raw === undefined || raw === '') return 'info';
  const level = LOG_LEVELS.find((l) => l === raw);
  if (!level) throw new ConfigError(`LOG_LEVEL must be error, warn, info or debug (got "${raw}")`);
  return level;
}

function mfaRequiredFor(raw: string | undefined): AppConfig['mfaRequiredFor'] {
  if (raw === undefined || raw === '') return 'admin';
  if (raw === 'admin' || raw === 'all' || raw === 'none') return raw;
  throw new ConfigError(`MFA_REQUIRED_FOR must be admin, all or none (got "${raw}")`);
}

function parseSmtpUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('SMTP_URL must be a URL such as smtps://user:password@smtp.example.com:465');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new ConfigError(`SMTP_URL must start with smtp:// or smtps:// (got "${url.protocol}")`);
  if (!url.hostname) throw new ConfigError('SMTP_URL has no host');
  return raw;
}

function mailFrom(raw: string | undefined, origin: string | undefined): string {
  if (raw === undefined || raw === '') return `no-reply@${origin ? new URL(origin).hostname : 'localhost'}`;
  // an address, or `Name <address>`; no line breaks (header injection)
  if (!/^([^\r\n<>]{0,100}<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/.test(raw)) {
    throw new ConfigError(`MAIL_FROM must be an address or "Name <address>" (got "${raw.replace(/[\r\n]/g, ' ')}")`);
  }
  return raw;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const nodeEnv = env.NODE_ENV ?? 'development';
  if (nodeEnv !== 'development' && nodeEnv !== 'test' && nodeEnv !== 'production') {
    throw new ConfigError(`NODE_ENV must be development, test or production (got "${nodeEnv}")`);
  }
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT must be a port number (got "${env.PORT}")`);

  const passwordMinLength = int(env, 'PASSWORD_MIN_LENGTH', PASSWORD_MIN_DEFAULT, 0, 64);
  if (passwordMinLength < PASSWORD_MIN_FLOOR) {
    throw new ConfigError(`PASSWORD_MIN_LENGTH must be at least ${PASSWORD_MIN_FLOOR} (got ${passwordMinLength})`);
  }

  let origin = env.APP_ORIGIN || undefined;
  if (origin !== undefined) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(`APP_ORIGIN must be an origin such as https://app.example.com (got "${origin}")`);
    }
    if (url.origin !== origin.replace(/\/$/, '')) throw new ConfigError(`APP_ORIGIN must be an origin without a path (got "${origin}")`);
    origin = url.origin;
  }

  const config: AppConfig = {
    env: nodeEnv,
    host: env.HOST ?? '127.0.0.1',
    port,
    databaseUrl: env.DATABASE_URL || undefined,
    databasePoolMax: databasePoolMax(env),
    origin,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    cookieSecure: bool(env, 'COOKIE_SECURE', true),
    passwordMinLength,
    passwordMinScore: int(env, 'PASSWORD_MIN_SCORE', PASSWORD_SCORE_DEFAULT, 0, 4),
    sessionIdleMinutes: int(env, 'SESSION_IDLE_MINUTES', 30, 1, 24 * 60),
    sessionAbsoluteHours: int(env, 'SESSION_ABSOLUTE_HOURS', 12, 1, 24 * 30),
    authLimit: {
      perAccount: int(env, 'AUTH_LIMIT_PER_ACCOUNT', 5, 1, 1000),
      perIp: int(env, 'AUTH_LIMIT_PER_IP', 20, 1, 100000),
      windowSeconds: int(env, 'AUTH_LIMIT_WINDOW_SECONDS', 15 * 60, 1, 24 * 3600),
    },
    apiLimit: {
      points: int(env, 'API_LIMIT_PER_MINUTE', 600, 1, 1_000_000),
      windowSeconds: 60,
    },
    logger: nodeEnv !== 'test',
    logLevel: logLevel(env.LOG_LEVEL),
    mfaRequiredFor: mfaRequiredFor(env.MFA_REQUIRED_FOR),
    mail: {
      smtpUrl: parseSmtpUrl(env.SMTP_URL),
      from: mailFrom(env.MAIL_FROM, origin),
      appName: (env.APP_NAME ?? '').replace(/[\p{Cc}\p{Cf}]/gu, '').trim().slice(0, 100) || (origin ? new URL(origin).hostname : 'localhost'),
    },
  };
  if (config.env === 'production') assertProductionSafe(config);
  return config;
}

/** The production refusals that need no database: each throws with a one-line reason. */
export function assertProductionSafe(config: AppConfig): void {
  if (!config.cookieSecure) throw new ConfigError('refusing to start in production: COOKIE_SECURE=false (session cookies must be Secure)');
  if (config.trustProxy === true) {
    throw new ConfigError(
      'refusing to start in production: TRUST_PROXY=true trusts any X-Forwarded-For (spoofable); give the hop count or the proxy addresses',
    );
  }
  if (config.passwordMinLength < PASSWORD_MIN_FLOOR) {
    throw new ConfigError(`refusing to start in production: PASSWORD_MIN_LENGTH below ${PASSWORD_MIN_FLOOR}`);
  }
  if (config.passwordMinScore < PASSWORD_SCORE_PRODUCTION_FLOOR) {
    throw new ConfigError(`refusing to start in production: PASSWORD_MIN_SCORE below ${PASSWORD_SCORE_PRODUCTION_FLOOR} (weak passwords would be accepted)`);
  }
  if (!config.origin) throw new ConfigError("refusing to start in production: APP_ORIGIN is not set (the CSRF check and the passkeys' relying party need the public origin)");
  if (!config.origin.startsWith('https://')) throw new ConfigError(`refusing to start in production: APP_ORIGIN must be https (got ${config.origin})`);
  if (!config.databaseUrl) throw new ConfigError('refusing to start in production: DATABASE_URL is not set (the embedded PGlite is for development)');
  if (!config.mail.smtpUrl) {
    throw new ConfigError('refusing to start in production: SMTP_URL is not set (password resets and invitations are sent by e-mail)');
  }
}

/** What the start-up query about the runtime login role returns. */
export interface DatabaseRoleFacts {
  role: string;
  superuser: boolean;
  bypassRls: boolean;
  ownedTables: number;
  /** the connection's auth key is registered (src/db/auth-key.ts): the auth subsystem can act */
  authKeyHeld: boolean;
}

/** SQL that describes the connected login role (session_user, not the SET ROLE'd one); run by the auth subsystem. */
export const DATABASE_ROLE_FACTS_SQL = `
  select r.rolname as role, r.rolsuper as superuser, r.rolbypassrls as "bypassRls",
         (select count(*)::int from pg_catalog.pg_class c
           where c.relowner = r.oid and c.relkind in ('r', 'p', 'v', 'm')
             and c.relnamespace not in (select oid from pg_catalog.pg_namespace
                                         where nspname in ('pg_catalog', 'information_schema')
                                            or nspname like 'pg\\_%')) as "ownedTables",
         app_private.auth_key_held() as "authKeyHeld"
    from pg_catalog.pg_roles r
   where r.rolname = session_user`;

/** Refuses a runtime database login that could bypass RLS (invariant I5): production throws, else warns. */
export function checkDatabaseRole(config: AppConfig, facts: DatabaseRoleFacts): string[] {
  const problems: string[] = [];
  if (facts.superuser) problems.push(`the database login role "${facts.role}" is a superuser (it bypasses RLS); connect as xms_app`);
  if (facts.bypassRls) problems.push(`the database login role "${facts.role}" has BYPASSRLS; connect as xms_app`);
  if (facts.ownedTables > 0) problems.push(`the database login role "${facts.role}" owns ${facts.ownedTables} table(s) (owners bypass RLS unless forced); connect as xms_app`);
  if (config.env === 'production' && problems.length > 0) throw new ConfigError(`refusing to start in production: ${problems[0]}`);
  if (!facts.authKeyHeld) {
    // in every environment: log-in, sign-up and every session check of the auth subsystem would fail
    throw new ConfigError(
      "refusing to start: this server's auth key is not registered in the database; run the migrations (src/db/migrate.ts) with XMS_APP_PASSWORD set to DATABASE_URL's password (src/db/auth-key.ts)",
    );
  }
  return problems;
}
