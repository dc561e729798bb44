/**
 * The one request-scoped database API (the only database handle a route handler gets).
 *
 * withRequestTransaction(db, { sessionToken, dbRole }, fn) opens ONE transaction, switches to the
 * request role with SET LOCAL ROLE (xms_<role>, or xms_anon without a session), puts the caller's
 * opaque session token in the transaction-local setting app.session_token, runs fn(tx), then commits
 * (or rolls back when fn throws). Identity is derived in the database from the token's SHA-256
 * (app.current_user_id() / current_tenant_id()); RLS decides what the transaction sees. Setting
 * another value later (app.tenant_id, a guessed token) gains nothing.
 *
 * withAuthTransaction(db, fn, { actorId }) is the same for the auth subsystem role xms_auth
 * (credentials, sessions, rate limits). Only the auth module uses it. The auth subsystem acts before a
 * session exists (sign-up, log-in) or for someone else (an admin revoking a member's sessions), so it
 * names the actor the audit trigger records (app.actor_id, honoured only for xms_auth; see
 * nameAuditActor). xms_auth sees and writes nothing without the connection's auth key
 * (src/db/auth-key.ts) in app.auth_key: any SQL on the connection can switch to the role, only this
 * module hands over the key, and only for the auth subsystem's own statements.
 *
 * openSessionRequest(db, token, config) is the protected scope's request path: ONE transaction
 * for the whole HTTP request, held open from the session check to the response. Its first statement
 * checks the session (as the runtime login, app_private.enter_session) and, in the same call,
 * switches to the session's request role and sets its token; it writes only when the idle expiry is
 * due to slide (at most once a minute). The handler's queries then run in that transaction (RequestTransaction.run), and the
 * server commits it before the response leaves (or rolls it back on an error status).
 *
 * checkSessionOnly(db, token, config) is the same check for a route that reads nothing but the
 * session (GET /api/me): one statement, committed in its own round trip, and the handler gets no
 * transaction.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Database, Queryable } from './client.js';
import { isWellFormedToken } from '../security/tokens.js';
import { isRole, type Role } from '../generated/permissions.js';

export interface RequestIdentity {
  /** the opaque session token from the cookie, or null without a session */
  sessionToken: string | null;
  /** the matrix role of the session (`member`, `admin`, ...); 'anon' or null without a session */
  dbRole: Role | 'anon' | null;
}

export class RequestRoleError extends Error {
  override name = 'RequestRoleError';
}

/** The PostgreSQL role of a matrix role; unknown roles are refused, never interpolated. */
export function requestRoleName(dbRole: string | null): string {
  if (dbRole === null || dbRole === 'anon') return 'xms_anon';
  if (!isRole(dbRole)) throw new RequestRoleError(`unknown request role "${dbRole}"`);
  return `xms_${dbRole}`;
}

/** The statement that switches a transaction to a request role, sent with its BEGIN (one round trip). */
function enterRole(role: string): { enter: string } {
  // role comes from the fixed list above: safe to quote as an identifier
  return { enter: `set local role "${role}"` };
}

async function setToken(tx: Queryable, token: string | null): Promise<void> {
  await tx.query(`select set_config('app.session_token', $1, true)`, [token ?? '']);
}

/**
 * Names the user the audit log records as the actor of the rest of this xms_auth transaction
 * (transaction-local). audit.log_changes() honours app.actor_id only when the transaction runs as
 * xms_auth: in a request transaction it changes nothing (the actor is the session's user).
 */
export async function nameAuditActor(tx: Queryable, userId: string): Promise<void> {
  await tx.query(`select set_config('app.actor_id', $1::uuid::text, true)`, [userId]);
}

export async function withRequestTransaction<T>(
  db: Database,
  identity: RequestIdentity,
  fn: (tx: Queryable) => Promise<T>,
): Promise<T> {
  const role = identity.sessionToken ? requestRoleName(identity.dbRole) : 'xms_anon';
  return db.transaction(async (tx) => {
    await setToken(tx, identity.sessionToken);
    return fn(tx);
  }, enterRole(role));
}

/** Thrown when the auth subsystem runs on a connection that knows no auth key (src/db/auth-key.ts). */
export class AuthKeyError extends Error {
  override name = 'AuthKeyError';
}

function authKeyOf(db: Pick<Database, 'authKey'>): string {
  if (!db.authKey) {
    throw new AuthKeyError('no auth key for this database connection: DATABASE_URL needs the password of xms_app (src/db/auth-key.ts)');
  }
  return db.authKey;
}

export async function withAuthTransaction<T>(
  db: Database,
  fn: (tx: Queryable) => Promise<T>,
  options: { sessionToken?: string | null; actorId?: string } = {},
): Promise<T> {
  return db.transaction(async (tx) => {
    // read once the transaction has begun (npm run dev's database tells its key with each BEGIN);
    // sent as a parameter: statement texts are visible to every session of the login
    const key = authKeyOf(db);
    await tx.query(`select set_config('app.session_token', $1, true), set_config('app.auth_key', $2, true)`, [options.sessionToken ?? '', key]);
    if (options.actorId) await nameAuditActor(tx, options.actorId);
    return fn(tx);
  }, enterRole('xms_auth'));
}

/** The live session a request transaction was opened for. */
export interface SessionRow {
  user_id: string;
  tenant_id: string | null;
  db_role: string;
  email: string | null;
  /** the user's display name (20240101000399_xms_session_profile.sql) */
  display_name: string | null;
  /** a second factor is required and not set up: this session may only enrol */
  mfa_enrol_only: boolean;
}

/** The idle expiry slides at most this often: most requests then write nothing. */
export const SLIDE_EVERY_SECONDS = 60;

/**
 * What opens a protected request's transaction, in one round trip (Database.transaction's `first`):
 * BEGIN and app_private.enter_session (both it and its check, app_private.check_session, as
 * 20240101000401_xms_session_entry_json.sql last defines them; the runtime login may call both,
 * 20240101000402_xms_session_check_by_login.sql), which checks the live session of the token (role
 * still its membership's, address verified), slides the idle expiry at most every
 * SLIDE_EVERY_SECONDS, enters the session's request role and token, and answers with the session's
 * row as one json value (NULL: no live session). The token goes as a bind parameter, never in a
 * statement's text: pg_stat_activity shows the text of every session's current statement to any
 * statement of the same login (`set role none` is all it takes), so a token written into the text
 * could be read by another request's SQL.
 */
const ENTER_SESSION_SQL = 'select app_private.enter_session($1, $2, $3) as entry';
/**
 * The same check for a route that reads nothing but the session: app_private.check_session alone,
 * its row as json (NULL: no live session). Nothing runs after it, so no role or token is entered.
 */
const CHECK_SESSION_SQL = 'select pg_catalog.row_to_json(app_private.check_session($1, $2, $3)) as entry';

function enterSessionParams(token: string, idleMinutes: number): unknown[] {
  if (!isWellFormedToken(token)) throw new RequestRoleError('malformed session token');
  if (!Number.isSafeInteger(idleMinutes) || idleMinutes <= 0) throw new RequestRoleError('bad idle lifetime');
  return [token, idleMinutes, SLIDE_EVERY_SECONDS];
}


/**
 * The request transaction whose call is running in this async context, to refuse a nested call
 * (it would wait for itself). ONE storage for the process: every AsyncLocalStorage that has run stays
 * registered with Node's async hooks, so one per transaction would slow every promise down over time.
 */
const activeCall = new AsyncLocalStorage<RequestTransaction>();

/** Thrown by RequestTransaction.run when called inside another of its own calls (it would deadlock). */
export class NestedRequestTransactionError extends Error {
  override name = 'NestedRequestTransactionError';
}

/**
 * A transaction held open for one HTTP request. Calls to run() are queued (one client, one statement
 * at a time) and share the transaction; auth() runs a function as xms_auth inside it (a savepoint, the
 * request role restored afterwards). end() commits or rolls back, once, after queued calls finished.
 */
export class RequestTransaction {
  private queue: Promise<unknown> = Promise.resolve();
  private ended: Promise<void> | undefined;
  private savepoints = 0;
  /** errors of auth() calls undone by their savepoint: they do not doom the transaction (made when
   * the first one happens: most requests have none) */
  private contained: WeakSet<object> | undefined;
  /** set when a call failed: the transaction can only roll back */
  failed = false;

  constructor(
    readonly session: SessionRow,
    /** the opaque token the transaction was opened with */
    readonly token: string,
    private readonly tx: Queryable,
    private readonly finish: (commit: boolean) => Promise<void>,
    /** the connection's auth key, for auth() */
    readonly authKey: string | null = null,
  ) {}

  get open(): boolean {
    return this.ended === undefined;
  }

  /**
   * fn with the transaction, for as long as its call lasts: a handle kept past it is refused. Kept,
   * it could send a statement while a later auth() call holds the auth subsystem's role and key.
   */
  run<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.enqueue(async () => {
      let open = true;
      const ended = (): Promise<never> => Promise.reject(new Error('a request transaction handle was used after its call ended'));
      const tx = this.tx;
      const scoped: Queryable = {
        query<R>(sql: string, params?: unknown[]) {
          return open ? tx.query<R>(sql, params) : ended();
        },
        exec: (sql) => (open ? tx.exec(sql) : ended()),
        ...(tx.copyFrom ? { copyFrom: (sql: string, data: AsyncIterable<string>) => (open ? tx.copyFrom!(sql, data) : ended()) } : {}),
      };
      try {
        return await fn(scoped);
      } finally {
        open = false;
      }
    });
  }

  /**
   * fn as the auth subsystem (xms_auth), inside this request's transaction: a savepoint in which the
   * role is xms_auth (and app.actor_id names `actor`, when given), both undone afterwards.
   */
  auth<T>(fn: (tx: Queryable) => Promise<T>, actor?: string): Promise<T> {
    return this.enqueue(async () => {
      const name = `xms_auth_${++this.savepoints}`;
      const key = authKeyOf(this);
      await this.tx.exec(`savepoint ${name}; set local role xms_auth`);
      try {
        await this.tx.query(`select set_config('app.auth_key', $1, true), set_config('app.actor_id', coalesce($2::uuid::text, ''), true)`, [key, actor ?? null]);
        const result = await fn(this.tx);
        // the savepoint's SET LOCALs would outlive RELEASE: hand the role back, forget the key and
        // the actor before a handler's statement runs again
        await this.tx.query(`select set_config('role', $1, true), set_config('app.auth_key', '', true), set_config('app.actor_id', '', true)`, [this.session.db_role]);
        await this.tx.exec(`release savepoint ${name}`);
        return result;
      } catch (error) {
        // undoes fn's writes, the role switch and the actor; the request transaction goes on
        await this.tx.exec(`rollback to savepoint ${name}; release savepoint ${name}`);
        if (typeof error === 'object' && error !== null) (this.contained ??= new WeakSet()).add(error);
        throw error;
      }
    });
  }

  /** Commits (commit = true and no call failed) or rolls back, after every queued call. Idempotent. */
  end(commit: boolean): Promise<void> {
    this.ended ??= this.queue.then(
      () => this.finish(commit && !this.failed),
      () => this.finish(false),
    );
    return this.ended;
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    if (activeCall.getStore() === this) {
      return Promise.reject(new NestedRequestTransactionError('request.withDb() called inside request.withDb(): use the tx you were given'));
    }
    if (this.ended) return Promise.reject(new Error('the request transaction has ended'));
    if (this.failed) return Promise.reject(new Error('an earlier database call of this request failed: its transaction only rolls back'));
    const result = this.queue.then(() => activeCall.run(this, work));
    this.queue = result.then(
      () => undefined,
      (error: unknown) => {
        if (!(typeof error === 'object' && error !== null && this.contained?.has(error))) this.failed = true;
      },
    );
    return result;
  }
}

const ROLLBACK = Symbol('rollback');

/**
 * The session row of the entry's answer (the json value, parsed by the driver; NULL, no live
 * session, arrives as null), or undefined when there is none to enter.
 */
function enteredSession(entered: Record<string, unknown>[]): SessionRow | undefined {
  const row = (entered[0] as { entry: SessionRow | null } | undefined)?.entry;
  if (!row || !isRole(row.db_role.slice(4))) return undefined;
  // frozen: the request transaction's session stays the row the database answered
  return Object.freeze({ user_id: row.user_id, tenant_id: row.tenant_id, db_role: row.db_role, email: row.email, display_name: row.display_name, mfa_enrol_only: row.mfa_enrol_only });
}

/**
 * The session of a request that sends no statement of its own (a route declared `sessionOnly`,
 * src/server/app.ts): the same check as openSessionRequest, as ONE statement in ONE round trip. It
 * runs in the implicit transaction that PostgreSQL gives a statement outside BEGIN, committed with
 * it, so the idle expiry's slide (when due) is written before the handler runs and no transaction is
 * held for the request. Undefined for an unknown, revoked, expired or outdated session.
 */
export async function checkSessionOnly(db: Database, token: string, config: { sessionIdleMinutes: number }): Promise<SessionRow | undefined> {
  if (!isWellFormedToken(token)) return undefined;
  const values = enterSessionParams(token, config.sessionIdleMinutes);
  return enteredSession((await db.query(CHECK_SESSION_SQL, values)).rows);
}

/**
 * Opens the protected-scope transaction of a request (see the top of this file). Returns undefined,
 * with nothing left open, for an unknown, revoked, expired or outdated session.
 */
export function openSessionRequest(
  db: Database,
  token: string,
  config: { sessionIdleMinutes: number },
): Promise<RequestTransaction | undefined> {
  return new Promise((resolve, reject) => {
    let settle!: (commit: boolean) => void;
    const settled = new Promise<boolean>((r) => (settle = r));
    let opened: RequestTransaction | undefined;
    // besides the handler's own queries, two round trips: BEGIN with the session check (which enters
    // the session's role), pipelined, and COMMIT at the end
    if (!isWellFormedToken(token)) return resolve(undefined);
    const values = enterSessionParams(token, config.sessionIdleMinutes);
    const done = db.transaction(async (tx, entered) => {
      const session = enteredSession(entered);
      if (!session) throw ROLLBACK; // nothing to enter
      opened = new RequestTransaction(
        session,
        token,
        tx,
        async (commit) => {
          settle(commit);
          await done.catch((error: unknown) => {
            if (error !== ROLLBACK) throw error;
          });
        },
        db.authKey,
      );
      resolve(opened);
      if (!(await settled)) throw ROLLBACK;
    }, { first: { text: ENTER_SESSION_SQL, values } });
    done.catch((error: unknown) => {
      if (opened) return; // reported by end()
      if (error === ROLLBACK) resolve(undefined);
      else reject(error);
    });
  });
}
