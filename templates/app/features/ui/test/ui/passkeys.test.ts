/**
 * Passkeys in Chromium (playwright-core), on the built SPA under the app's strict CSP, with the
 * DevTools protocol's virtual authenticator (WebAuthn.addVirtualAuthenticator) standing in for the
 * device: an admin (second factor required by default) enrols a passkey from the enrolment page,
 * keeps the recovery codes, logs out, and logs in with the password and the passkey. The page is
 * opened on localhost: a browser refuses an IP address as the relying party's ID. No CSP violation.
 */
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { client, markVerified, randomEmail, startServer, strongPassword, testConfig, testDatabase, type Server } from '../helpers/http.js';
import { CHROMIUM, CSP_RECORDER, launchChromium, logInOnPage, NO_CHROMIUM, sharedBuild } from './support.js';


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

test('in Chromium: an admin enrols a passkey, then logs in with the password and the passkey', async () => {
  // without Chromium the test fails: a browser test that cannot run never counts as passed
  assert.ok(existsSync(CHROMIUM), NO_CHROMIUM);
  const email = randomEmail('passkey-ui');
  const password = strongPassword();
  const signup = await client(server).request('POST', '/api/auth/signup', { email, password, tenantName: 'Passkey tenant' });
  assert.is(signup.status, 202);
  await markVerified(email);
  const origin = server.url.replace('127.0.0.1', 'localhost');

  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(10_000);
    await page.addInitScript(CSP_RECORDER);
    // a platform authenticator that verifies the user and answers at once
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    const logIn = () => logInOnPage(page, email, password);

    await page.goto(`${origin}/`);
    await logIn();
    await page.getByRole('heading', { name: 'Set up a second factor' }).waitFor();
    await page.getByLabel('Passkey name').fill('Test device');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    const list = page.getByTestId('recovery-codes');
    await list.waitFor();
    assert.is((await list.locator('code').allTextContents()).length, 10, 'the first factor comes with recovery codes');
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByTestId('whoami').filter({ hasText: email }).waitFor();
    const stored = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.is(stored.credentials.length, 1, 'the authenticator holds the new credential');
    assert.is(stored.credentials[0]!.rpId, 'localhost');

    // log out, log in again: the password, then the passkey
    await page.getByRole('button', { name: 'Log out' }).click();
    await logIn();
    await page.getByRole('heading', { name: 'Second factor' }).waitFor();
    await page.getByRole('button', { name: 'Use your passkey' }).click();
    await page.getByTestId('whoami').filter({ hasText: email }).waitFor();
    const used = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.ok(used.credentials[0]!.signCount > 0, 'the authenticator signed');

    // the sessions page lists it, used
    await page.goto(`${origin}/#/sessions`);
    await page.getByTestId('passkeys').filter({ hasText: 'Test device' }).filter({ hasText: 'last used' }).waitFor();
    assert.equal(await page.evaluate('window.__csp'), [], 'no CSP violation');
  } finally {
    await browser.close();
  }
});

test.run();
