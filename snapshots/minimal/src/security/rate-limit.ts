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
 * Keys: `<scope>:ip:<client ip>` and `<scope>:acct:<sha256 of the lower-cased e-mail>` (no e-mail is
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
  return createHash('sha256').update(email.trim().toLowerCase(), 'utf8').digest('hex');
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

  /** Throws RateLimited when either counter is exhausted (checks without counting). */
  async check(ip: string, email: string | undefined): Promise<void> {
    const ipRes = await this.ip.get(ip);
    if (ipRes && ipRes.consumedPoints >= this.settings.perIp) throw new RateLimited(retryAfter(ipRes));
    if (email !== undefined) {
      const accountRes = await this.account.get(accountKey(email));
      if (accountRes && accountRes.consumedPoints >= this.settings.perAccount) throw new RateLimited(retryAfter(accountRes));
    }
  }

  /** Counts one attempt (a failure, or every attempt for actions that always count). */
  async hit(ip: string, email: string | undefined): Promise<void> {
    await this.ip.consume(ip).catch((res: unknown) => {
      if (!(res instanceof RateLimiterRes)) throw res;
    });
    if (email !== undefined) {
      await this.account.consume(accountKey(email)).catch((res: unknown) => {
        if (!(res instanceof RateLimiterRes)) throw res;
      });
    }
  }

  /** A successful log-in clears the account's failures (not the IP's). */
  async clearAccount(email: string): Promise<void> {
    await this.account.delete(accountKey(email));
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
