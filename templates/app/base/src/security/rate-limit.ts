import { createHash } from 'node:crypto';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';

/**
 * Rate limits (invariant I13) with rate-limiter-flexible's PostgreSQL store, so every server instance
 * on the same database shares one count (test/http/rate-limit.test.ts runs two instances).
 *
 * The library's store only needs an object with `query({ text, values })`. We give it one that runs
 * each statement in its own transaction as the auth request role (xms_auth, through the request-scoped
 * database API): the runtime login role has no privilege of its own, and the limiter never holds a
 * privileged credential. That works the same on PGlite and on PostgreSQL. The table
 * (app_private.auth_rate_limits, in the schema the library expects) is created by the migration
 * 20240101000300_xms_auth.sql, so the limiter never runs DDL.
 *
 * Consume first: an attempt takes its point from the IP's and the account's allowance BEFORE the
 * secret is verified (one atomic upsert each in the shared table), so parallel requests, on one
 * instance or many, cannot get more verifications than the limit; a success gives the point back.
 *
 * Keys: `<scope>:ip:<client ip>` and `<scope>:acct:<sha256 of the normalised e-mail>` (no e-mail is
 * stored). The client IP is Fastify's request.ip, which honours X-Forwarded-For only as far as the
 * explicit TRUST_PROXY setting allows (default: not at all), so a spoofed header changes nothing.
 */
export type AuthQuery = (text: string, values: unknown[]) => Promise<{ rows: Record<string, unknown>[]; rowCount: number }>;

export interface LimitSettings {
  perAccount: number;
  perIp: number;
  windowSeconds: number;
}

export class RateLimited extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('rate limited');
  }
}

export function accountKey(email: string): string {
  // the e-mail is already normalised (src/auth/accounts.ts normaliseEmail): one key per mailbox
  return createHash('sha256').update(email, 'utf8').digest('hex');
}

function storeClient(query: AuthQuery) {
  return {
    query: async (q: { text: string; values?: unknown[] }) => {
      const result = await query(q.text, q.values ?? []);
      // bigint columns come back as strings (pg) or bigint (PGlite): the library wants numbers
      return {
        rowCount: result.rowCount,
        rows: result.rows.map((row) => ({
          ...row,
          points: row.points === undefined ? undefined : Number(row.points),
          expire: row.expire === null || row.expire === undefined ? null : Number(row.expire),
        })),
      };
    },
  };
}

function limiter(query: AuthQuery, keyPrefix: string, points: number, duration: number): RateLimiterPostgres {
  return new RateLimiterPostgres({
    storeClient: storeClient(query),
    storeType: 'pool',
    schemaName: 'app_private',
    tableName: 'auth_rate_limits',
    tableCreated: true,
    clearExpiredByTimeout: false,
    keyPrefix,
    points,
    duration,
  });
}

function retryAfter(res: RateLimiterRes | null): number {
  return Math.max(1, Math.ceil((res?.msBeforeNext ?? 1000) / 1000));
}

/** One guarded action (login, signup, reset): a per-IP and a per-account counter. */
export class ActionLimiter {
  private readonly ip: RateLimiterPostgres;
  private readonly account: RateLimiterPostgres;

  constructor(query: AuthQuery, readonly action: string, readonly settings: LimitSettings) {
    this.ip = limiter(query, `${action}:ip`, settings.perIp, settings.windowSeconds);
    this.account = limiter(query, `${action}:acct`, settings.perAccount, settings.windowSeconds);
  }

  /** Takes one attempt from the client IP's allowance; throws RateLimited when it is spent. */
  async consumeIp(ip: string): Promise<void> {
    await consumeOrThrow(this.ip, ip);
  }

  /** Takes one attempt from the account's allowance; throws RateLimited when it is spent. */
  async consumeAccount(email: string): Promise<void> {
    await consumeOrThrow(this.account, accountKey(email));
  }

  /** Both, IP first: call before verifying anything secret. `email` undefined: no account to count. */
  async consume(ip: string, email: string | undefined): Promise<void> {
    await this.consumeIp(ip);
    if (email !== undefined) await this.consumeAccount(email);
  }

  /** A success: the IP gets its point back and the account's failures are forgotten. */
  async succeeded(ip: string, email: string | undefined): Promise<void> {
    await this.ip.reward(ip, 1);
    if (email !== undefined) await this.account.delete(accountKey(email));
  }
}

async function consumeOrThrow(limiter: RateLimiterPostgres, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (res) {
    // the library rejects with its RateLimiterRes when the points are spent, with an Error otherwise
    if (res instanceof RateLimiterRes) throw new RateLimited(retryAfter(res));
    throw res;
  }
}

/**
 * The general API limit per client IP, one point per request. It lives in each instance's memory
 * (a database round-trip on every request would cost more than the limit protects); the limits that
 * guard credentials above are the shared ones.
 */
export class ApiLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(readonly points: number, windowSeconds: number) {
    this.limiter = new RateLimiterMemory({ keyPrefix: 'api:ip', points, duration: windowSeconds });
  }

  async consume(ip: string): Promise<void> {
    try {
      await this.limiter.consume(ip);
    } catch (res) {
      if (res instanceof RateLimiterRes) throw new RateLimited(retryAfter(res));
      throw res;
    }
  }
}

/** Deletes expired counters (called now and then; the library's own timer is off). */
export async function clearExpiredLimits(query: AuthQuery): Promise<void> {
  await query('delete from app_private.auth_rate_limits where expire < $1', [Date.now() - 3_600_000]);
}
