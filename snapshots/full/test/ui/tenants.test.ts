/**
 * Several tenants in Chromium (playwright-core; the test fails when no Chromium binary exists):
 * a user who belongs to two tenants picks one after the password, then switches in the header; each
 * switch is a new session (the old cookie stops working) with the other tenant's role. An account of
 * one tenant joins another through the e-mailed invitation (read from a real SMTP server in this
 * process) with its own password, a wrong one refused first. The picker, the header and the
 * invitation page hold at 390 px; no page reports a CSP violation. One browser, one server.
 */
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { randomEmail, signUpAndLogin, startServer, strongPassword, testConfig, testDatabase, type Server } from '../helpers/http.js';
import { mailLink, startInbox, type Inbox } from '../helpers/mail.js';
import { CHROMIUM, CSP_RECORDER, launchChromium, NO_CHROMIUM, phoneCheck, sharedBuild } from './support.js';

const SESSION_COOKIE = '__Host-session';

let server: Server;
let inbox: Inbox;
let browser: Browser | undefined;
let served = false;

test.before(async () => {
  process.env.UI_DIR = await sharedBuild();
  inbox = await startInbox();
  server = await startServer(testConfig({ mail: inbox.mailConfig }));
  served = server.app.xmsRoutes().some((r) => r.method === 'GET' && r.url === '/');
  if (!served || !existsSync(CHROMIUM)) return;
  browser = await launchChromium();
});

test.after(async () => {
  delete process.env.UI_DIR;
  await browser?.close();
  await server?.close();
  await inbox?.close();
  await (await testDatabase()).close();
});

/** A fresh context (no cookie) that records CSP violations. */
async function freshPage(): Promise<{ context: BrowserContext; page: Page }> {
  // without Chromium the test fails: a browser test that cannot run never counts as passed
  assert.ok(browser, NO_CHROMIUM);
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.addInitScript(CSP_RECORDER);
  return { context, page };
}

test('in Chromium: pick a tenant at log-in, switch in the header (a new session each time)', async () => {
  if (!served) return;
  // admin of Alpha (their own sign-up), member of Beta (set up with the owner connection)
  const user = await signUpAndLogin(server, 'Alpha');
  const beta = await signUpAndLogin(server, 'Beta');
  await (await testDatabase()).owner.query(`insert into app.memberships (user_id, tenant_id, role) values ($1, $2, 'member')`, [user.userId, beta.tenantId]);

  const { context, page } = await freshPage();
  try {
    const sessionCookie = async () => (await context.cookies()).find((c) => c.name === SESSION_COOKIE)?.value;

    await page.goto(`${server.url}/`);
    await page.getByLabel('E-mail').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    // the password was right: the tenants are offered, nothing is open yet
    await page.getByRole('heading', { name: 'Choose an organisation' }).waitFor();
    assert.is(await sessionCookie(), undefined, 'no session before the choice');
    await phoneCheck(page, 'tenant-picker');
    await page.getByRole('combobox', { name: 'Organisation' }).selectOption({ label: 'Beta (member)' });
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByTestId('whoami').filter({ hasText: `${user.email} (member)` }).waitFor();
    const first = await sessionCookie();
    assert.ok(first);
    await phoneCheck(page, 'header-with-tenant-switcher');

    // the switcher in the header: a new session for Alpha, where the user is admin
    const switcher = page.getByRole('combobox', { name: 'Organisation' });
    assert.is(await switcher.inputValue(), beta.tenantId);
    await switcher.selectOption({ label: 'Alpha' });
    await page.getByTestId('whoami').filter({ hasText: `${user.email} (admin)` }).waitFor();
    const second = await sessionCookie();
    assert.ok(second && second !== first, 'a new session token');
    const old = await fetch(`${server.url}/api/me`, { headers: { cookie: `${SESSION_COOKIE}=${first}` } });
    assert.is(old.status, 401, 'the old session was revoked');
    assert.is(await page.getByRole('combobox', { name: 'Organisation' }).inputValue(), user.tenantId);
    assert.equal(await page.evaluate('window.__csp'), [], 'no CSP violation');
  } finally {
    await context.close();
  }
});

test('in Chromium: an account of Alpha joins Beta through the e-mailed invitation with its own password', async () => {
  if (!served) return;
  const account = await signUpAndLogin(server, 'Alpha');
  const adminB = await signUpAndLogin(server, 'Beta');
  assert.is((await adminB.client.request('POST', '/api/admin/users', { email: account.email, role: 'member' })).status, 201);
  await server.app.xms.mail.settled();
  const link = mailLink((await inbox.next(account.email)).text);
  assert.match(link, /\/invitation#token=/);

  const { context, page } = await freshPage();
  try {
    await page.goto(link.replace(/^https?:\/\/[^/]+/, server.url));
    await page.getByRole('heading', { name: 'Join Beta' }).waitFor();
    await page.getByText(`You already have an account (${account.email})`).waitFor();
    await phoneCheck(page, 'invitation-existing-account');
    // a wrong password: refused, the page stays, nothing joined
    await page.getByLabel('Your password').fill(strongPassword());
    await page.getByRole('button', { name: 'Join Beta' }).click();
    await page.getByRole('alert').filter({ hasText: "This password is not the account's." }).waitFor();
    await page.getByLabel('Your password').fill(account.password);
    await page.getByRole('button', { name: 'Join Beta' }).click();
    // joined: a session in Beta, the switcher offers both organisations
    await page.getByTestId('whoami').filter({ hasText: `${account.email} (member)` }).waitFor();
    const switcher = page.getByRole('combobox', { name: 'Organisation' });
    assert.is(await switcher.inputValue(), adminB.tenantId);
    await switcher.selectOption({ label: 'Alpha' });
    await page.getByTestId('whoami').filter({ hasText: `${account.email} (admin)` }).waitFor();
    // the link is used: opening it again says so
    await page.goto(link.replace(/^https?:\/\/[^/]+/, server.url));
    await page.getByRole('alert').filter({ hasText: 'This link is invalid or has expired.' }).waitFor();
    assert.equal(await page.evaluate('window.__csp'), [], 'no CSP violation');
  } finally {
    await context.close();
  }
});

test('in Chromium: a new address accepts its invitation by choosing a password', async () => {
  if (!served) return;
  const admin = await signUpAndLogin(server, 'Gamma');
  const email = randomEmail('invitee');
  assert.is((await admin.client.request('POST', '/api/admin/users', { email, role: 'member' })).status, 201);
  await server.app.xms.mail.settled();
  const link = mailLink((await inbox.next(email)).text);
  const { context, page } = await freshPage();
  try {
    await page.goto(link.replace(/^https?:\/\/[^/]+/, server.url));
    await page.getByRole('heading', { name: 'Accept your invitation' }).waitFor();
    await phoneCheck(page, 'invitation-new-account');
    await page.getByLabel(/New password/).fill(strongPassword());
    await page.getByRole('button', { name: 'Accept and set password' }).click();
    await page.getByRole('status').filter({ hasText: /log in/i }).waitFor();
    assert.equal(await page.evaluate('window.__csp'), [], 'no CSP violation');
  } finally {
    await context.close();
  }
});

test.run();
