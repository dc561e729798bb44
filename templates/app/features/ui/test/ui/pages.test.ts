/**
 * The pages in Chromium (playwright-core), against the built SPA served by the app on loopback:
 *   - the records page pages through 1,000+ records on the server (keyset), says how many there are,
 *     searches, and links the CSV export;
 *   - the audit log filters on the server and shows an update as a diff that stays in its column;
 *   - a 404 page for unknown addresses (the server answers such a path with status 404);
 *   - the rate-limit message says when to try again (Retry-After);
 *   - a large CSV import shows bytes uploaded and rows read, then a report whose numbers add up;
 *   - at 390 px wide nothing overflows horizontally on any page; keyboard focus is visible;
 *   - not one CSP violation.
 * A screenshot of each page (desktop and phone) is written to test-artifacts/screenshots/ (git-ignored;
 * CI keeps it as an artefact). Without Chromium the test FAILS: set CHROMIUM_PATH or install it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { randomEmail, signUpAndLogin, startServer, testConfig, testDatabase, type Account, type Server } from '../helpers/http.js';
import { startInbox, type Inbox } from '../helpers/mail.js';
import { CHROMIUM, CSP_RECORDER, launchChromium, NO_CHROMIUM, SCREENSHOTS, sharedBuild, waitInPage } from './support.js';

const RECORDS = 1030;
const PAGE_SIZE = 50;

let server: Server;
let inbox: Inbox;
let browser: Browser;
let admin: Account;


test.before(async () => {
  // uvu reports a failing before hook as 0 passed with exit code 0: the check is a test of its own
  if (!existsSync(CHROMIUM)) return;
  process.env.UI_DIR = await sharedBuild();
  inbox = await startInbox();
  server = await startServer(testConfig({ mail: inbox.mailConfig }));
  admin = await signUpAndLogin(server, 'Paging tenant');
  // three statements, so three created_at instants shared by many rows: the pages must break ties by id
  const { owner } = await testDatabase();
  for (const [from, to] of [[1, 400], [401, 800], [801, RECORDS]]) {
    await owner.query(
      `insert into app.records (tenant_id, owner_id, title, body)
       select $1, $2, 'Paged ' || lpad(g::text, 4, '0'), 'row ' || g from generate_series($3::int, $4::int) g`,
      [admin.tenantId, admin.userId, from, to],
    );
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchChromium();
});

test.after(async () => {
  delete process.env.UI_DIR;
  await browser?.close();
  await server?.close();
  await inbox?.close();
  await (await testDatabase()).close();
});

test('Chromium is installed (a browser test without a browser fails, it never passes)', () => {
  assert.ok(existsSync(CHROMIUM), NO_CHROMIUM);
});

/** A browser context (and page) in which `account` logged in: the server set the HttpOnly cookie. */
async function signedIn(account: Account | null, viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page }> {
  if (!browser) throw new Error(NO_CHROMIUM);
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.addInitScript(CSP_RECORDER);
  if (account) {
    await page.goto(`${server.url}/`);
    const status = await page.evaluate(
      `fetch('/api/auth/login', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
        body: ${JSON.stringify(JSON.stringify({ email: account.email, password: account.password }))} }).then((r) => r.status)`,
    );
    assert.is(status, 200, 'login');
    // the next page.goto loads the SPA afresh, signed in
    await page.goto('about:blank');
  }
  return { context, page };
}

async function noCspViolation(page: Page): Promise<void> {
  assert.equal(await page.evaluate('window.__csp'), [], 'CSP violations');
}

/** Horizontal overflow of the document, in px (0: none). */
const overflow = (page: Page) => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as Promise<number>;

/** The titles of the records table, top to bottom. */
const titles = (page: Page) => page.getByTestId('records').locator('tbody tr td:first-child').allTextContents();

test('the records page pages through 1,030 records on the server, in order, each once; search; export', async () => {
  if (!browser) throw new Error(NO_CHROMIUM);
  // what the API says, in its order
  const expected: string[] = [];
  let after: string | null = null;
  do {
    const response = await admin.client.request('GET', `/api/records?limit=500${after ? `&after=${after}` : ''}`);
    const page = (await response.json()) as { rows: { title: string }[]; next: string | null };
    expected.push(...page.rows.map((r) => r.title));
    after = page.next;
  } while (after);
  assert.is(expected.length, RECORDS);

  const { context, page } = await signedIn(admin);
  await page.goto(`${server.url}/#/records`);
  const count = page.getByTestId('records-count');
  await count.filter({ hasText: `${RECORDS.toLocaleString('en-US')} records` }).waitFor();
  const seen: string[] = [];
  for (let n = 0; n < Math.ceil(RECORDS / PAGE_SIZE); n++) {
    const first = n * PAGE_SIZE + 1;
    await count.filter({ hasText: `showing ${first.toLocaleString('en-US')}–` }).waitFor();
    seen.push(...(await titles(page)));
    const next = page.getByRole('button', { name: 'Next' });
    if (n === Math.ceil(RECORDS / PAGE_SIZE) - 1) assert.ok(await next.isDisabled(), 'no next page after the last');
    else await next.click();
  }
  assert.is(seen.length, RECORDS);
  assert.is(new Set(seen).size, RECORDS, 'no record twice');
  assert.equal(seen, expected, 'the API order, newest first');
  await page.screenshot({ path: join(SCREENSHOTS, 'records-last-page.png'), fullPage: true });

  // back one page: the cursors already seen
  await page.getByRole('button', { name: 'Previous' }).click();
  await count.filter({ hasText: `showing ${(RECORDS - (RECORDS % PAGE_SIZE) - PAGE_SIZE + 1).toLocaleString('en-US')}–` }).waitFor();

  // search on the server; % is a character, not a wildcard
  await page.getByLabel('Search records').fill('paged 0007');
  await page.getByRole('button', { name: 'Search' }).click();
  await count.filter({ hasText: '1 record matching "paged 0007"' }).waitFor();
  assert.equal(await titles(page), ['Paged 0007']);
  await page.getByLabel('Search records').fill('%');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText('No record matches.').waitFor();

  // the export is one click away, and holds every record
  const exportLink = page.getByRole('link', { name: 'Export CSV' });
  if ((await exportLink.count()) > 0) {
    const href = await exportLink.getAttribute('href');
    const csv = (await page.evaluate(`fetch(${JSON.stringify(href)}, { credentials: 'same-origin' }).then((r) => r.text())`)) as string;
    assert.is(csv.trim().split(/\r\n/).length, RECORDS + 1, 'a header and every record');
  }
  await noCspViolation(page);
  await context.close();
});

test('unknown addresses: a 404 page, and status 404 from the server', async () => {
  const { context, page } = await signedIn(admin);
  await page.goto(`${server.url}/#/no-such-page`);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  const response = await page.goto(`${server.url}/no-such-page`);
  assert.is(response?.status(), 404);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, 'not-found.png') });
  await page.getByRole('link', { name: 'Go to the start page' }).click();
  await page.getByRole('heading', { name: 'Records' }).waitFor();
  const api = await fetch(`${server.url}/api/no-such-route`, { headers: { accept: 'text/html' } });
  assert.is(api.status, 404);
  assert.match(api.headers.get('content-type') ?? '', /json/, 'an API path never gets the page');
  await api.arrayBuffer();
  await noCspViolation(page);
  await context.close();
});

test('the audit log: filters on the server, the actor by e-mail, an update as a readable diff contained in its column', async () => {
  const long = `unbroken-${'x'.repeat(400)}`;
  const created = await admin.client.request('POST', '/api/records', { title: 'Audited in the browser', body: 'before' });
  const { id } = (await created.json()) as { id: string };
  assert.is((await admin.client.request('PATCH', `/api/records/${id}`, { body: long })).status, 200);

  const { context, page } = await signedIn(admin);
  await page.goto(`${server.url}/#/audit`);
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  const filters = page.getByRole('form', { name: 'Filter the audit log' });
  await filters.getByLabel('Table').fill('records');
  await filters.getByLabel('Action').selectOption('UPDATE');
  await filters.getByLabel('Actor').selectOption({ label: admin.email });
  await filters.getByRole('button', { name: 'Apply' }).click();
  const rows = page.getByTestId('audit').locator('tbody tr');
  // the unfiltered page was there first: wait for the filtered one
  await waitInPage(page, 'document.querySelectorAll("[data-testid=audit] tbody tr").length === 1');
  await rows.first().getByText(admin.email).waitFor();
  assert.is(await rows.count(), 1, 'one update of records by this admin');
  const diff = rows.first().getByTestId('diff');
  await diff.locator('del', { hasText: 'before' }).waitFor();
  await diff.locator('ins', { hasText: long }).waitFor();
  assert.equal(await diff.locator('dt').allTextContents(), ['body', 'updated_at'], 'only the changed columns');
  // contained at 1280 px: neither the page nor the table's own container scrolls sideways
  assert.is(await overflow(page), 0);
  assert.ok(
    await page.evaluate('[...document.querySelectorAll(".table-wrap, [data-testid=diff]")].every((el) => el.scrollWidth <= el.clientWidth)'),
    'the audit table overflows its column',
  );
  await page.screenshot({ path: join(SCREENSHOTS, 'audit-filtered.png'), fullPage: true });

  // a time range in the future: nothing
  await filters.getByLabel('From').fill('2999-01-01T00:00');
  await filters.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('No entries.').waitFor();
  await filters.getByRole('button', { name: 'Clear' }).click();
  await rows.first().waitFor();
  await noCspViolation(page);
  await context.close();
});

test('the rate-limit message says when to try again', async () => {
  const { context, page } = await signedIn(null);
  await page.goto(`${server.url}/`);
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  // an address of its own: the per-account limit it trips must not lock out the other tests' admin
  await page.getByLabel('E-mail').fill(randomEmail('limited'));
  await page.getByLabel('Password').fill('not the password at all');
  const alert = page.getByRole('alert');
  for (let attempt = 0; attempt < 10; attempt++) {
    await page.getByRole('button', { name: 'Log in' }).click();
    await alert.waitFor();
    if (/Too many attempts/.test(await alert.innerText())) break;
  }
  assert.match(await alert.innerText(), /Too many attempts; try again in \d+ (seconds?|minutes \(at .+\))\./);
  await context.close();
});

test('a large CSV import shows its progress, then a report whose numbers add up to the rows read', async () => {
  const { context, page } = await signedIn(admin);
  await page.goto(`${server.url}/#/import`);
  const importLink = await page.getByRole('heading', { name: 'Import CSV' }).count();
  if (importLink === 0) {
    await context.close();
    return; // the app has no csv-import feature
  }
  await page.getByRole('heading', { name: 'Import CSV' }).waitFor();
  const fresh = 20_000;
  const lines = ['title,body'];
  for (let i = 0; i < fresh; i++) lines.push(`Imported ${i},line ${i}`);
  lines.push('Imported 1,line 1', 'Imported 2,line 2'); // repeated in the file
  lines.push('Paged 0001,row 1'); // already present (seeded)
  const csv = Buffer.from(`${lines.join('\n')}\n`);
  await page.locator('input[type=file]').setInputFiles({ name: 'large.csv', mimeType: 'text/csv', buffer: csv });
  // every text the progress line shows, recorded in the page: on PGlite the database works in this
  // test's own process, so the test cannot look while the server is busy, but the browser can
  await page.evaluate(`window.__statuses = [];
    new MutationObserver(() => {
      const text = document.querySelector('[data-testid=import-progress] [role=status]')?.textContent;
      if (text && window.__statuses.at(-1) !== text) window.__statuses.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });`);
  await page.getByRole('button', { name: 'Import' }).click();
  const progress = page.getByTestId('import-progress');
  const report = page.getByTestId('import-report');
  await report.waitFor({ timeout: 120_000 });
  // while it ran, the page said what was happening (never only a disabled button): the upload, then the rows read
  const statuses = (await page.evaluate('window.__statuses')) as string[];
  assert.ok(statuses.some((text) => /^Uploading \d/.test(text)), statuses.join(' | '));
  assert.ok(statuses.some((text) => /rows read/.test(text)), statuses.join(' | '));
  const numbers = Object.fromEntries(
    (await report.locator('tr').allInnerTexts()).map((row) => {
      const [label, count] = row.split('\t');
      return [label!.trim(), Number(count!.replace(/\D/g, ''))];
    }),
  ) as Record<string, number>;
  assert.equal(numbers, {
    Inserted: fresh,
    'Repeated in the file (skipped)': 2,
    'Already present (skipped)': 1,
    'Rows read': fresh + 3,
  });
  const { ['Rows read']: read, ...parts } = numbers;
  assert.is(Object.values(parts).reduce((a, b) => a + b, 0), read, 'the numbers add up');
  await page.getByText(`Inserted ${fresh.toLocaleString('en-US')} of ${(fresh + 3).toLocaleString('en-US')} rows.`).waitFor();
  assert.is(await progress.count(), 0, 'the progress is gone once the report is there');
  await page.screenshot({ path: join(SCREENSHOTS, 'import-report.png'), fullPage: true });

  // a file with an invalid row: nothing inserted, and the numbers still add up
  await page.locator('input[type=file]').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('title,body\nok,1\n,no title\nalso ok,2\n') });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByTestId('import-rejected').waitFor();
  const rejected = await page.getByTestId('import-report').locator('tr').allInnerTexts();
  assert.equal(rejected.map((row) => row.replace(/\t/g, ': ')), ['Rejected (invalid): 1', 'Valid, not inserted (the file was rejected): 2', 'Rows read: 3']);
  await noCspViolation(page);
  await context.close();
});

const PAGES: { route: string; heading: string }[] = [
  { route: 'records', heading: 'Records' },
  { route: 'import', heading: 'Import CSV' },
  { route: 'users', heading: 'Users' },
  { route: 'audit', heading: 'Audit log' },
  { route: 'sessions', heading: 'Sessions' },
  { route: 'no-such-page', heading: 'Page not found' },
];

test('at 390 px and at 1280 px no page overflows horizontally; a screenshot of each', async () => {
  for (const viewport of [{ width: 390, height: 844 }, { width: 1280, height: 900 }]) {
    const { context, page } = await signedIn(admin, viewport);
    for (const { route, heading } of PAGES) {
      await page.goto(`${server.url}/#/${route}`);
      const title = page.getByRole('heading', { name: heading, level: 1 });
      if ((await title.count()) === 0 && route !== 'no-such-page') {
        // a page this app does not have (its feature is off) is the records page
        await page.getByRole('heading', { name: 'Records' }).waitFor();
        continue;
      }
      await title.waitFor();
      await page.waitForLoadState('networkidle');
      assert.is(await overflow(page), 0, `${route} at ${viewport.width} px overflows`);
      await page.screenshot({ path: join(SCREENSHOTS, `${route}-${viewport.width}.png`), fullPage: true, timeout: 60_000 });
    }
    await noCspViolation(page);
    await context.close();
  }
  const { context, page } = await signedIn(null, { width: 390, height: 844 });
  await page.goto(`${server.url}/`);
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  assert.is(await overflow(page), 0, 'the login page at 390 px overflows');
  await page.screenshot({ path: join(SCREENSHOTS, 'login-390.png'), fullPage: true });
  await noCspViolation(page);
  await context.close();
});

test('keyboard: Tab reaches the navigation and the forms, and the focused element is outlined', async () => {
  const { context, page } = await signedIn(admin);
  await page.goto(`${server.url}/#/records`);
  await page.getByRole('heading', { name: 'Records' }).waitFor();
  const reached: string[] = [];
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab');
    const focused = (await page.evaluate(`(() => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      return { name: (el.getAttribute('aria-label') || el.textContent || el.getAttribute('name') || el.tagName).trim(), outline: style.outlineStyle, width: style.outlineWidth };
    })()`)) as { name: string; outline: string; width: string };
    reached.push(focused.name);
    assert.is.not(focused.outline, 'none', `${focused.name} has no visible focus`);
    assert.is.not(focused.width, '0px', `${focused.name} has no visible focus`);
  }
  assert.ok(reached.includes('Records'), `the navigation is reachable: ${reached.join(', ')}`);
  assert.ok(reached.includes('title'), `the new-record form is reachable: ${reached.join(', ')}`);
  await context.close();
});

test.run();
