/**
 * `npm run dev`'s database across the supervisor's IPC channel (src/db/dev-database-host.ts): the
 * server's remoteDatabase() must answer as the database it stands for (rows, errors, transactions,
 * the request path's roles and refusals), and a server that goes away mid-transaction must leave
 * nothing held. The channel here is two in-process ends that pass each message as a structured
 * clone, as fork()'s "advanced" serialization does; the hosted database is the runtime login xms_app.
 */
import { EventEmitter } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Database } from '../../src/db/client.js';
import { hostDatabase, remoteDatabase, type Channel } from '../../src/db/dev-database-host.js';
import { openSessionRequest } from '../../src/db/request.js';
import { openTestDatabase, probe, type TestDatabase } from '../helpers/db.js';

const test = suite('dev database host');
let t: TestDatabase;

test.before(async () => {
  t = await openTestDatabase({ shared: true });
});
test.after(async () => {
  await t?.close();
});

/** The supervisor's end and the server's end of one channel. */
function channelPair(): { supervisor: Channel & { disconnect(): void }; server: Channel } {
  const supervisorSide = new EventEmitter();
  const serverSide = new EventEmitter();
  let connected = true;
  const deliver = (to: EventEmitter) => (message: unknown) => {
    if (!connected) throw new Error('channel closed');
    const copy = structuredClone(message);
    setImmediate(() => to.emit('message', copy));
    return true;
  };
  const end = (self: EventEmitter, other: EventEmitter) =>
    Object.assign(self, {
      send: deliver(other),
      get connected() {
        return connected;
      },
    }) as unknown as Channel;
  return {
    supervisor: Object.assign(end(supervisorSide, serverSide), {
      disconnect() {
        connected = false;
        supervisorSide.emit('disconnect');
        serverSide.emit('disconnect');
      },
    }),
    server: end(serverSide, supervisorSide),
  };
}

/** A remote database served from `database` (default: the test's xms_app connection). */
function hosted(database: Database = t.db) {
  const { supervisor, server } = channelPair();
  const host = hostDatabase(async () => database, supervisor);
  return { remote: remoteDatabase(server), host, disconnect: () => supervisor.disconnect() };
}

const within = <T>(promise: Promise<T>, what: string) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in 5 s`)), 5000).unref())]);

test('rows, parameters and row counts arrive as the database returns them', async () => {
  const { remote } = hosted();
  const sql = `select $1::timestamptz as at, $2::bytea as bytes, $3::jsonb as doc, $4::text as text,
                      $5::int4 as small, null::text as nothing, array[1, 2]::int4[] as list`;
  const params = [new Date('2024-02-29T12:34:56.789Z'), new Uint8Array([0, 1, 255]), JSON.stringify({ a: [1, 'é'] }), 'naïve ✓', 42];
  const direct = await t.db.query(sql, params);
  const remoteResult = await remote.query(sql, params);
  // bytea: PGlite (the database npm run dev hosts) returns a Uint8Array; node-postgres a Buffer, which
  // a structured clone delivers as a Uint8Array of the same bytes
  const plainBytes = (rows: Record<string, unknown>[]) =>
    rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, value instanceof Uint8Array ? new Uint8Array(value) : value])));
  assert.equal({ ...remoteResult, rows: plainBytes(remoteResult.rows) }, { ...direct, rows: plainBytes(direct.rows) });
  const row = remoteResult.rows[0]!;
  assert.instance(row.at, Date);
  assert.instance(row.bytes, Uint8Array);
  assert.equal(row.doc, { a: [1, 'é'] });
  assert.equal(await remote.query('select generate_series(1, 3) as n'), await t.db.query('select generate_series(1, 3) as n'));
});

test("a database error keeps its SQLSTATE and fields, and its stack names the caller's code", async () => {
  const { remote } = hosted();
  // the runtime login owns nothing: outside a request transaction it can read no table
  const direct = await t.db.query('select * from app.users').then(() => undefined, (error: unknown) => error as Record<string, unknown>);
  const error = await remote.query('select * from app.users').then(() => undefined, (e: unknown) => e as Error & Record<string, unknown>);
  assert.ok(direct && error, 'both refused');
  assert.is(error.code, '42501');
  assert.is(error.code, direct.code);
  assert.is(error.message, direct.message);
  assert.instance(error, Error);
  assert.match(error.stack ?? '', /dev-database-host\.test\.ts/);
  // a bad statement names where it failed, as PostgreSQL said
  const syntax = await remote.query('select from where').then(() => undefined, (e: unknown) => e as Record<string, unknown>);
  assert.is(syntax?.code, '42601');
  assert.ok(syntax?.position, 'the position of the error is kept');
});

test('the request path through it: the session check, the role and the refusals are the database’s', async () => {
  const { remote } = hosted();
  const member = t.f.actor('member');
  const tx = await openSessionRequest(remote, member.token!, { sessionIdleMinutes: 30 });
  assert.ok(tx, 'the session opens');
  const row = await tx!.run(async (q) =>
    (await q.query<{ role: string; user_id: string }>('select current_user as role, app.current_user_id() as user_id')).rows[0]!,
  );
  await tx!.end(false);
  assert.equal(row, { role: 'xms_member', user_id: member.id });
  // an unknown token opens nothing
  assert.is(await openSessionRequest(remote, 'not-a-token', { sessionIdleMinutes: 30 }), undefined);

  // the same rows and refusals as on the database itself, for a member, a foreign member and nobody
  const read = (q: { query: Database['query'] }) => q.query('select id from app.users order by id').then((r) => r.rows);
  for (const user of [member, t.f.actor('member', 2), null]) {
    assert.equal(await probe(remote, user, read), await probe(t.db, user, read), user?.key ?? 'no session');
  }
});

test('a transaction commits; one whose function throws rolls back and rethrows that error', async () => {
  const { remote } = hosted(t.owner);
  await t.owner.exec('create table if not exists public.dev_host_probe (n int, unique (n) deferrable initially deferred)');
  try {
    await remote.transaction(async (tx) => {
      await tx.query('insert into public.dev_host_probe values ($1)', [1]);
    });
    const thrown = new Error('the handler failed');
    const caught = await remote
      .transaction(async (tx) => {
        await tx.query('insert into public.dev_host_probe values ($1)', [2]);
        throw thrown;
      })
      .catch((e: unknown) => e);
    assert.is(caught, thrown, "the function's own error");
    // a failed COMMIT (a deferred unique check) reaches the caller as the database's error
    const commit = await remote
      .transaction(async (tx) => {
        await tx.query('insert into public.dev_host_probe values (3), (3)');
      })
      .catch((e: unknown) => e as Record<string, unknown>);
    assert.is(commit?.code, '23505');
    // the rows of the statements that enter a transaction reach its function
    const entered = await remote.transaction(async (_tx, rows) => rows, { enter: "select 'in' as state" });
    assert.equal(entered, [{ state: 'in' }]);
    assert.equal((await t.owner.query('select n from public.dev_host_probe order by n')).rows, [{ n: 1 }]);
  } finally {
    await t.owner.exec('drop table if exists public.dev_host_probe');
  }
});

test('a server that goes away mid-transaction: its transaction is rolled back and nothing stays held', async () => {
  await t.owner.exec('create table if not exists public.dev_host_probe (n int, unique (n) deferrable initially deferred)');
  try {
    const gone = hosted(t.owner);
    let inside!: () => void;
    const reached = new Promise<void>((resolve) => (inside = resolve));
    const abandoned = gone.remote.transaction(async (tx) => {
      await tx.query('insert into public.dev_host_probe values (7)');
      inside();
      await new Promise(() => {}); // the process is killed here
    });
    abandoned.catch(() => {});
    await within(reached, 'the abandoned transaction');
    gone.disconnect();
    await within(gone.host.drop(), 'drop()');
    // calls after the supervisor went away fail with a message, not silence
    const late = await gone.remote.query('select 1').catch((e: unknown) => e as Error);
    assert.match(String((late as Error)?.message), /npm run dev stopped/);

    const next = hosted(t.owner);
    const rows = await within(next.remote.transaction(async (tx) => (await tx.query('select n from public.dev_host_probe')).rows), 'the next transaction');
    assert.equal(rows, [], 'the abandoned insert was rolled back');
  } finally {
    await t.owner.exec('drop table if exists public.dev_host_probe');
  }
});

test.run();
