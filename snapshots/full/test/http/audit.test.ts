/**
 * GET /api/admin/audit (src/routes/admin/audit.ts): server-side filters (table, actor, action, time),
 * keyset pages that visit every entry once, actors named by e-mail, secrets never shown, bad filters 400.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { signUpAndLogin, startServer, testConfig, testDatabase, type Account, type Server } from '../helpers/http.js';
import { startInbox, type Inbox } from '../helpers/mail.js';
import { maskSecrets } from '../../src/routes/admin/audit.js';

let server: Server;
let inbox: Inbox;
test.before(async () => {
  inbox = await startInbox();
  server = await startServer(testConfig({ mail: inbox.mailConfig }));
});
test.after(async () => {
  await server.close();
  await inbox.close();
  await (await testDatabase()).close();
});

interface Entry {
  id: string;
  at: string;
  actorId: string | null;
  actorEmail: string | null;
  action: string;
  table: string;
  oldRow: Record<string, unknown> | null;
  newRow: Record<string, unknown> | null;
}
type AuditPage = { entries: Entry[]; next: string | null };

async function audit(account: Account, query: string): Promise<AuditPage> {
  const response = await account.client.request('GET', `/api/admin/audit?${query}`);
  assert.is(response.status, 200, `${query}: ${response.status}`);
  return (await response.json()) as AuditPage;
}

/** Every entry matching `query`, following `next` with pages of `limit`. */
async function all(account: Account, query: string, limit = 500): Promise<Entry[]> {
  const entries: Entry[] = [];
  let before: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const page = await audit(account, `${query}&limit=${limit}${before ? `&before=${before}` : ''}`);
    entries.push(...page.entries);
    before = page.next;
    if (!before) return entries;
  }
  throw new Error('more than 100 pages');
}

async function activity(admin: Account): Promise<string> {
  const created = await admin.client.request('POST', '/api/records', { title: 'audited', body: 'first' });
  assert.is(created.status, 201);
  const { id } = (await created.json()) as { id: string };
  assert.is((await admin.client.request('PATCH', `/api/records/${id}`, { body: 'second' })).status, 200);
  assert.is((await admin.client.request('DELETE', `/api/records/${id}`)).status, 204);
  for (let i = 0; i < 5; i++) assert.is((await admin.client.request('POST', '/api/records', { title: `more ${i}`, body: '' })).status, 201);
  return id;
}

test('filters by table and action on the server; the update carries old and new values', async () => {
  const admin = await signUpAndLogin(server);
  const id = await activity(admin);
  const updates = await all(admin, 'table=records&action=UPDATE');
  assert.ok(updates.length >= 1);
  assert.ok(updates.every((e) => e.table === 'app.records' && e.action === 'UPDATE'));
  const update = updates.find((e) => e.oldRow?.id === id)!;
  assert.equal([update.oldRow?.body, update.newRow?.body], ['first', 'second']);
  assert.is(update.actorEmail, admin.email, 'the actor by e-mail');
  const qualified = await all(admin, 'table=app.records&action=UPDATE');
  assert.equal(qualified.map((e) => e.id), updates.map((e) => e.id), 'records and app.records name one table');
  const deletes = await all(admin, 'table=records&action=DELETE');
  assert.equal(deletes.map((e) => e.oldRow?.id), [id]);
  assert.is(deletes[0]!.newRow, null);
});

test('filters by actor and time; keyset pages visit every entry once, newest first', async () => {
  const admin = await signUpAndLogin(server);
  const other = await signUpAndLogin(server);
  await activity(admin);
  await activity(other);
  const everything = await all(admin, '');
  assert.ok(everything.length >= 8);
  assert.not.ok(everything.some((e) => e.actorId === other.userId), 'nothing of another tenant');
  const mine = await all(admin, `actor=${admin.userId}`);
  assert.equal(mine.map((e) => e.id), everything.filter((e) => e.actorId === admin.userId).map((e) => e.id));
  assert.ok(mine.length > 0);
  assert.is(await all(admin, `actor=${other.userId}`).then((e) => e.length), 0, 'another tenant\'s actor: nothing');

  const paged = await all(admin, '', 3);
  assert.equal(paged.map((e) => e.id), everything.map((e) => e.id), 'pages of 3 visit the same entries in the same order');
  const ids = paged.map((e) => Number(e.id));
  assert.equal(ids, [...ids].sort((a, b) => b - a));
  assert.is(new Set(ids).size, ids.length);

  const times = everything.map((e) => Date.parse(e.at)).sort((a, b) => a - b);
  const middle = new Date(times[Math.floor(times.length / 2)]!).toISOString();
  const later = await all(admin, `from=${encodeURIComponent(middle)}`);
  const earlier = await all(admin, `to=${encodeURIComponent(middle)}`);
  assert.ok(later.every((e) => Date.parse(e.at) >= Date.parse(middle)));
  assert.ok(earlier.every((e) => Date.parse(e.at) <= Date.parse(middle) + 1), 'at has microseconds');
  assert.ok(later.length + earlier.length >= everything.length);
  assert.is((await all(admin, `from=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`)).length, 0);
});

test('bad filters are refused with 400; a member gets 403', async () => {
  const admin = await signUpAndLogin(server);
  for (const query of [
    'action=TRUNCATE',
    'actor=not-a-uuid',
    'table=records;drop',
    'table=Records',
    'from=yesterday',
    'before=0',
    'before=abc',
    'limit=501',
    'from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z',
    'unknown=1',
  ]) {
    const response = await admin.client.request('GET', `/api/admin/audit?${query}`);
    assert.is(response.status, 400, query);
    await response.arrayBuffer();
  }
});

test('secret-looking columns are masked even where the audit rules forgot them', () => {
  assert.equal(maskSecrets({ title: 'x', password_hash: 'argon', token_hash: '\\x00', totp_secret: 'k', api_key: 'k', footprint: 'f', note: null }), {
    title: 'x',
    password_hash: '[redacted]',
    token_hash: '[redacted]',
    totp_secret: '[redacted]',
    api_key: '[redacted]',
    footprint: 'f',
    note: null,
  });
  assert.is(maskSecrets(null), null);
});

test('no entry an admin sees carries a hash, a token or a password', async () => {
  const admin = await signUpAndLogin(server);
  await activity(admin);
  const text = JSON.stringify(await all(admin, ''));
  assert.not.match(text, /\$argon2/, 'no password hash');
  assert.not.match(text, /"(password_hash|token_hash)":"(?!\[redacted\])/, 'hash columns redacted');
});

test.run();
