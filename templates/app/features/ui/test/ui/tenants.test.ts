/**
 * Several tenants in Chromium (playwright-core; the test fails when no Chromium binary exists):
 * a user who belongs to two tenants picks one after the password, then switches in the header; each
 * switch is a new session (the old cookie stops working) with the other tenant's role, and no page
 * reports a CSP violation.
 */
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { signUpAndLogin, startServer, testConfig, testDatabase, type Server } from '../helpers/http.js';
import { sharedBuild } from './support.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SESSION_COOKIE = '__Host-session';

let server: Server;
let served = false;

test.before(async () => {
  process.env.UI_DIR = await sharedBuild();
  server = await startServer(testConfig());
  served = server.app.xmsRoutes().some((r) => r.method === 'GET' && r.url === '/');
});

test.after(async () => {
  delete process.env.UI_DIR;
  await server?.close();
  await (await testDatabase()).close();
});

test('in Chromium: pick a tenant at log-in, switch in the header (a new session each time)', async () => {
  if (!served) return;
  // without Chromium the test fails: a browser test that cannot run never counts as passed
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  // admin of Alpha (their own sign-up), member of Beta (set up with the owner connection)
  const user = await signUpAndLogin(server, 'Alpha');
  const beta = await signUpAndLogin(server, 'Beta');
  await (await testDatabase()).owner.query(`insert into app.memberships (user_id, tenant_id, role) values ($1, $2, 'member')`, [user.userId, beta.tenantId]);

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.addInitScript(
      'window.__csp = []; document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));',
    );
    const sessionCookie = async () => (await context.cookies()).find((c) => c.name === SESSION_COOKIE)?.value;

    await page.goto(`${server.url}/`);
    await page.getByLabel('E-mail').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    // the password was right: the tenants are offered, nothing is open yet
    await page.getByRole('heading', { name: 'Choose an organisation' }).waitFor();
    assert.is(await sessionCookie(), undefined, 'no session before the choice');
    await page.getByRole('combobox', { name: 'Organisation' }).selectOption({ label: 'Beta (member)' });
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByTestId('whoami').filter({ hasText: `${user.email} (member)` }).waitFor();
    const first = await sessionCookie();
    assert.ok(first);

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
    await browser.close();
  }
});

test.run();
