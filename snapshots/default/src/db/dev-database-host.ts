/**
 * `npm run dev`'s embedded database, held by the supervisor (src/server/dev.mjs) and used by the
 * server process it starts (src/server/dev-server.ts) through their IPC channel.
 *
 * Why not in the server: opening PGlite (PostgreSQL compiled to WebAssembly) is about a second of
 * work that cannot share its thread, and the server spends about as long loading its modules.
 * The supervisor opens (and migrates, src/db/dev-data.ts) the database while the server process
 * loads, on the other core, and keeps it open across restarts: a change under src/ restarts only
 * the server. A change to the migrations or permissions.yml closes it, migrates and opens it again.
 *
 * - hostDatabase(): the supervisor's side, for one server process: it answers that process's
 *   queries, and when the process is gone, drop() rolls back what it left open.
 * - remoteDatabase(): the server's side, the same `Database` interface as openDatabase(); each call
 *   is a message to the supervisor and back. Rows, parameters and errors cross by structured clone
 *   (the channel's "advanced" serialization): a database error arrives as an Error with the same
 *   message and fields (`code`, `detail`, `constraint`, ...) and the caller's stack.
 *
 * The database is opened as openDevDatabase() opens it: the runtime role xms_app, never the owner;
 * every request still switches to its request role in its own transaction (src/db/request.ts).
 * With DATABASE_URL (PostgreSQL) none of this is used: the server connects itself.
 * Development only: tests and production open the database in process (src/db/client.ts).
 */
import { setFlagsFromString } from 'node:v8';
import type { Database, Queryable, TransactionOptions } from './client.js';
import { openDevDatabase, type DevDatabaseOptions } from './dev-data.js';

/** A process's IPC channel as both ends see it (`process`, or the supervisor's ChildProcess). */
export interface Channel {
  send?(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  readonly connected?: boolean;
}

type Request =
  | { op: 'query'; sql: string; params?: unknown[]; tx?: number }
  | { op: 'exec'; sql: string; tx?: number }
  | { op: 'begin'; enter?: string; first?: TransactionOptions['first'] }
  | { op: 'end'; tx: number; commit: boolean };
/** An error as it crosses the channel: its message, name and own fields. */
interface ErrorShape {
  name: string;
  message: string;
  fields: Record<string, unknown>;
}
/** Every message of this protocol carries its call's number here; other messages are not ours. */
const TAG = 'xmsDatabase';
type Envelope<T> = T & { [TAG]: number };
type Reply = Envelope<{ ok: true; value?: unknown } | { ok: false; error: ErrorShape }>;

const isOurs = (message: unknown): message is Envelope<Record<string, unknown>> =>
  typeof message === 'object' && message !== null && typeof (message as Record<string, unknown>)[TAG] === 'number';

/**
 * Opens the development database (migrating first when needed) for the supervisor to host.
 * PGlite's WebAssembly is compiled by V8's baseline compiler only: by default V8 also recompiles
 * the functions busy while PostgreSQL starts with its optimising compiler, in background threads,
 * which takes more CPU than the rest of the start and competes with the server's for the same cores.
 * The flag is restored once it is open: what runs hot later is still optimised.
 */
export async function openHostedDatabase(options: DevDatabaseOptions = {}): Promise<Database> {
  setFlagsFromString('--liftoff-only');
  try {
    return await openDevDatabase(options);
  } finally {
    setFlagsFromString('--no-liftoff-only');
  }
}

/**
 * Serves `database()` (the supervisor's current database, awaited per call: a start's first queries
 * wait for it to open) to the process at the other end of `channel`. drop(): that process is gone;
 * its open transactions are rolled back.
 */
export function hostDatabase(database: () => Promise<Database>, channel: Channel): { drop(): Promise<void> } {
  /** this process's open transactions: the handle and how to end it (resolves once ended) */
  const open = new Map<number, { tx: Queryable; end: (commit: boolean) => Promise<void> }>();
  let nextTx = 0;
  let dropped = false;
  const rollback = Symbol('rollback');

  const handle = async (tx?: number): Promise<Queryable> => {
    if (tx === undefined) return database();
    const entry = open.get(tx);
    if (!entry) throw new Error(`no open transaction ${tx}`);
    return entry.tx;
  };
  const begin = async (enter?: string, first?: TransactionOptions['first']) => {
    const db = await database();
    const number = nextTx++;
    return new Promise<{ tx: number; entered: Record<string, unknown>[]; authKey: string | null }>((resolveBegin, rejectBegin) => {
      let begun = false;
      // BEGIN (and `enter`) now; COMMIT when the callback's promise resolves, ROLLBACK when it
      // rejects: end() settles it when the server says so
      const done: Promise<void> = db.transaction(
        (tx, entered) =>
          new Promise<void>((commit, abort) => {
            begun = true;
            open.set(number, {
              tx,
              end: (ok) => {
                if (ok) commit();
                else abort(rollback);
                return done.catch((error: unknown) => {
                  if (error !== rollback) throw error;
                });
              },
            });
            // the auth key goes with every transaction: the database may have been opened again
            // (with a new folder, a new key) since the server's last one
            resolveBegin({ tx: number, entered, authKey: db.authKey });
          }),
        { enter, first },
      );
      done.catch((error: unknown) => {
        if (!begun) rejectBegin(error);
      });
    });
  };
  const end = async (tx: number, commit: boolean) => {
    const entry = open.get(tx);
    if (!entry) throw new Error(`no open transaction ${tx}`);
    open.delete(tx);
    await entry.end(commit);
  };
  const run = async (request: Request): Promise<unknown> => {
    switch (request.op) {
      case 'query':
        return (await handle(request.tx)).query(request.sql, request.params);
      case 'exec':
        return (await handle(request.tx)).exec(request.sql);
      case 'begin':
        return begin(request.enter, request.first);
      case 'end':
        return end(request.tx, request.commit);
    }
  };

  channel.on('message', (message) => {
    if (!isOurs(message)) return;
    const id = message[TAG];
    run(message as unknown as Request).then(
      (value) => reply({ [TAG]: id, ok: true, value }),
      (error: unknown) => reply({ [TAG]: id, ok: false, error: errorShape(error) }),
    );
  });
  const reply = (message: Reply) => {
    if (!dropped && channel.connected !== false) channel.send?.(message);
  };
  return {
    async drop() {
      dropped = true;
      const left = [...open.keys()];
      await Promise.allSettled(left.map((tx) => end(tx, false)));
    },
  };
}

/** The supervisor's database, seen from the server process through `channel` (`process`). */
export function remoteDatabase(channel: Channel): Database {
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; stack: string }>();
  let nextId = 0;
  let gone: Error | undefined;

  channel.on('message', (message) => {
    if (!isOurs(message)) return;
    const reply = message as unknown as Reply;
    const call = pending.get(reply[TAG]);
    if (!call) return;
    pending.delete(reply[TAG]);
    if (reply.ok) call.resolve(reply.value);
    else call.reject(rebuildError(reply.error, call.stack));
  });
  channel.on('disconnect', () => {
    gone = new Error('npm run dev stopped: the development database is gone');
    for (const call of pending.values()) call.reject(gone);
    pending.clear();
  });

  const call = <T>(request: Request): Promise<T> => {
    if (gone) return Promise.reject(gone);
    if (!channel.send) return Promise.reject(new Error('no supervisor to ask for the database: start the server with npm run dev'));
    const id = nextId++;
    // the caller's stack, for the error the call may end with
    const stack = new Error().stack?.split('\n').slice(2).join('\n') ?? '';
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject, stack });
      channel.send!({ [TAG]: id, ...request });
    });
  };
  const queryable = (tx?: number): Queryable => ({
    query: (sql, params) => call({ op: 'query', sql, params, tx }),
    exec: (sql) => call({ op: 'exec', sql, tx }),
  });
  const base = queryable();
  /** the hosted database's auth key, as its last transaction began (the auth subsystem reads it inside one) */
  let authKey: string | null = null;
  return {
    kind: 'pglite',
    get authKey() {
      return authKey;
    },
    query: base.query,
    exec: base.exec,
    transaction,
    // the supervisor closes it, after this process has stopped
    async close() {},
  };

  async function transaction<T>(fn: (tx: Queryable, entered: Record<string, unknown>[]) => Promise<T>, options?: TransactionOptions): Promise<T> {
    const begun = await call<{ tx: number; entered: Record<string, unknown>[]; authKey: string | null }>({ op: 'begin', enter: options?.enter, first: options?.first });
    const { tx, entered } = begun;
    authKey = begun.authKey;
    let result;
    try {
      result = await fn(queryable(tx), entered);
    } catch (error) {
      // fn's error is the one to report, whatever the rollback's outcome
      await call({ op: 'end', tx, commit: false }).catch(() => {});
      throw error;
    }
    await call({ op: 'end', tx, commit: true });
    return result;
  }
}

function errorShape(error: unknown): ErrorShape {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    // what structured clone cannot carry (functions, symbols) stays behind
    if (typeof value !== 'function' && typeof value !== 'symbol') fields[key] = value;
  }
  return { name: error.name, message: error.message, fields };
}

function rebuildError(shape: ErrorShape, stack: string): Error {
  const error = new Error(shape.message);
  error.name = shape.name;
  Object.assign(error, shape.fields);
  error.stack = `${shape.name}: ${shape.message}\n${stack}`;
  return error;
}
