/**
 * The second factor in Chromium (playwright-core), on the built SPA served by the app: an admin
 * (second factor required by default) logs in and can only enrol; the page shows the QR code (a data:
 * image the CSP allows) and the key; a code computed here with otpauth confirms it; the ten recovery
 * codes are shown once; then a log-in with the password and a recovery code. No CSP violation; the
 * enrolment, the recovery codes and the code step hold at 390 px (screenshots in test-artifacts/).
 */
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as OTPAuth from 'otpauth';
import { client, markVerified, randomEmail, startServer, strongPassword, testConfig, testDatabase, type Server } from '../helpers/http.js';
import { CHROMIUM, CSP_RECORDER, launchChromium, logInOnPage, NO_CHROMIUM, phoneCheck, sharedBuild, waitInPage } from './support.js';


let server: Server;
test.before(async () => {
  process.env.UI_DIR = await sharedBuild();
  server = await startServer(testConfig({ mfaRequiredFor: 'admin' }));
});
test.after(async () => {
  delete process.env.UI_DIR;
  await server?.close();
  await (await testDatabase()).close();
});

test('in Chromium: an admin enrols (QR, key, code), keeps the recovery codes, logs in with one', async () => {
  // without Chromium the test fails: a browser test that cannot run never counts as passed
  assert.ok(existsSync(CHROMIUM), NO_CHROMIUM);
  const email = randomEmail('mfa-ui');
  const password = strongPassword();
  const signup = await client(server).request('POST', '/api/auth/signup', { email, password, tenantName: 'MFA tenant' });
  assert.is(signup.status, 202);
  // the address is confirmed as if its e-mailed link was followed (that flow has its own browser test)
  await markVerified(email);

  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(10_000);
    await page.addInitScript(CSP_RECORDER);
    const logIn = () => logInOnPage(page, email, password);

    await page.goto(`${server.url}/`);
    await logIn();
    // required for admins: the enrolment is the only page
    await page.getByRole('heading', { name: 'Set up a second factor' }).waitFor();
    await page.goto(`${server.url}/#/records`);
    await page.getByRole('heading', { name: 'Set up a second factor' }).waitFor();
    await page.getByRole('button', { name: 'Start' }).click();
    const qr = page.getByRole('img', { name: 'QR code of the authenticator key' });
    await qr.waitFor();
    // the image decodes (a data: URL the CSP's img-src allows; a blocked one would never load)
    await waitInPage(page, '(() => { const img = document.querySelector("img.qr"); return img && img.complete && img.naturalWidth > 0; })()');
    await phoneCheck(page, 'mfa-enrolment');
    const secret = (await page.getByTestId('mfa-secret').textContent())!.trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
    await page.getByLabel('Code from the app').fill(totp.generate());
    await page.getByRole('button', { name: 'Confirm' }).click();
    const list = page.getByTestId('recovery-codes');
    await list.waitFor();
    const codes = (await list.locator('code').allTextContents()).map((c) => c.trim());
    assert.is(codes.length, 10);
    await phoneCheck(page, 'mfa-recovery-codes');
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByTestId('whoami').filter({ hasText: email }).waitFor();

    // log out, log in again: the password, then a recovery code
    await page.getByRole('button', { name: 'Log out' }).click();
    await logIn();
    await page.getByRole('heading', { name: 'Second factor' }).waitFor();
    await phoneCheck(page, 'mfa-code-at-log-in');
    await page.getByLabel('Code or recovery code').fill(codes[0]!);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByTestId('whoami').filter({ hasText: email }).waitFor();
    // the sessions page shows the second factor, one recovery code spent
    await page.goto(`${server.url}/#/sessions`);
    await page.getByText('9 recovery code(s) left').waitFor();
    assert.equal(await page.evaluate('window.__csp'), [], 'no CSP violation');
  } finally {
    await browser.close();
  }
});

test.run();
