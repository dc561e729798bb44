import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkDatabaseRole, ConfigError, loadConfig } from '../../src/config.js';

const production = {
  NODE_ENV: 'production',
  APP_ORIGIN: 'https://app.example.com',
  DATABASE_URL: 'postgres://xms_app@db.example.com/app',
  SMTP_URL: 'smtps://mailer:secret@smtp.example.com:465',
};

function refuses(env: NodeJS.ProcessEnv, reason: RegExp): void {
  try {
    loadConfig(env);
  } catch (error) {
    assert.instance(error, ConfigError);
    assert.match((error as Error).message, reason);
    assert.not.match((error as Error).message, /\n/, 'one line');
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(env)}`);
}

test('defaults: password minimum 15, secure cookie, no proxy trust, documented session lifetimes', () => {
  const config = loadConfig({ NODE_ENV: 'development' });
  assert.is(config.passwordMinLength, 15);
  assert.is(config.cookieSecure, true);
  assert.is(config.trustProxy, false);
  assert.is(config.sessionIdleMinutes, 30);
  assert.is(config.sessionAbsoluteHours, 12);
});

test('a password minimum below 12 is refused in every environment; 12 is accepted', () => {
  refuses({ NODE_ENV: 'development', PASSWORD_MIN_LENGTH: '11' }, /PASSWORD_MIN_LENGTH must be at least 12/);
  refuses({ ...production, PASSWORD_MIN_LENGTH: '8' }, /PASSWORD_MIN_LENGTH/);
  assert.is(loadConfig({ NODE_ENV: 'development', PASSWORD_MIN_LENGTH: '12' }).passwordMinLength, 12);
});

test('the password strength minimum: default 3, 0-4 only, below 3 refused in production', () => {
  assert.is(loadConfig({ NODE_ENV: 'development' }).passwordMinScore, 3);
  assert.is(loadConfig({ NODE_ENV: 'development', PASSWORD_MIN_SCORE: '2' }).passwordMinScore, 2);
  refuses({ NODE_ENV: 'development', PASSWORD_MIN_SCORE: '5' }, /PASSWORD_MIN_SCORE must be an integer between 0 and 4/);
  refuses({ ...production, PASSWORD_MIN_SCORE: '2' }, /PASSWORD_MIN_SCORE below 3/);
  assert.is(loadConfig({ ...production, PASSWORD_MIN_SCORE: '4' }).passwordMinScore, 4);
});

test('mail: production refuses to start without SMTP_URL; a malformed SMTP_URL or MAIL_FROM is refused everywhere', () => {
  const { SMTP_URL: _unused, ...withoutMail } = production;
  refuses(withoutMail, /refusing to start in production: SMTP_URL is not set/);
  assert.is(loadConfig({ NODE_ENV: 'development' }).mail.smtpUrl, undefined, 'development prints messages instead');
  refuses({ NODE_ENV: 'development', SMTP_URL: 'http://smtp.example.com' }, /SMTP_URL must start with smtp:\/\/ or smtps:\/\//);
  refuses({ NODE_ENV: 'development', SMTP_URL: 'not a url' }, /SMTP_URL must be a URL/);
  refuses({ ...production, MAIL_FROM: 'a@example.com\r\nBcc: victim@example.com' }, /MAIL_FROM must be an address/);
  const config = loadConfig(production);
  assert.is(config.mail.from, 'no-reply@app.example.com');
  assert.is(config.mail.appName, 'app.example.com');
  assert.is(loadConfig({ ...production, MAIL_FROM: 'Example <hello@example.com>', APP_NAME: 'Example' }).mail.from, 'Example <hello@example.com>');
});

test('DATABASE_POOL_MAX: 10 by default, an integer from 1 to 1000, anything else refused by name', () => {
  assert.is(loadConfig({ NODE_ENV: 'development' }).databasePoolMax, 10);
  assert.is(loadConfig({ NODE_ENV: 'development', DATABASE_POOL_MAX: '' }).databasePoolMax, 10);
  assert.is(loadConfig({ ...production, DATABASE_POOL_MAX: '4' }).databasePoolMax, 4);
  assert.is(loadConfig({ ...production, DATABASE_POOL_MAX: '1000' }).databasePoolMax, 1000);
  // node-postgres takes a negative size as a pool that is always full, and 0 or text as its default
  for (const bad of ['-5', '0', 'abc', '2.5', '1001']) {
    refuses({ ...production, DATABASE_POOL_MAX: bad }, /^DATABASE_POOL_MAX must be an integer between 1 and 1000 \(got ".*"\)$/);
  }
});

test('a secure production config starts', () => {
  assert.is(loadConfig(production).env, 'production');
  assert.equal(loadConfig({ ...production, TRUST_PROXY: '1' }).trustProxy, 1);
});

test('session lifetimes are bounded in every environment: idle at most 24 h, absolute at most 30 days', () => {
  for (const env of [{ NODE_ENV: 'development' }, production]) {
    refuses({ ...env, SESSION_IDLE_MINUTES: '1441' }, /SESSION_IDLE_MINUTES must be an integer between 1 and 1440/);
    refuses({ ...env, SESSION_IDLE_MINUTES: String(10 * 365 * 24 * 60) }, /SESSION_IDLE_MINUTES/);
    refuses({ ...env, SESSION_ABSOLUTE_HOURS: '721' }, /SESSION_ABSOLUTE_HOURS must be an integer between 1 and 720/);
    refuses({ ...env, SESSION_IDLE_MINUTES: '0' }, /SESSION_IDLE_MINUTES/);
    const longest = loadConfig({ ...env, SESSION_IDLE_MINUTES: '1440', SESSION_ABSOLUTE_HOURS: '720' });
    assert.is(longest.sessionIdleMinutes, 1440);
    assert.is(longest.sessionAbsoluteHours, 720);
  }
});

test('TRUST_PROXY never trusts every address: 0.0.0.0/0 and ::/0 are refused everywhere; hop counts and proxy lists are kept', () => {
  for (const env of [{ NODE_ENV: 'development' }, production]) {
    refuses({ ...env, TRUST_PROXY: '0.0.0.0/0' }, /TRUST_PROXY must list the proxies, not every address/);
    refuses({ ...env, TRUST_PROXY: '10.0.0.1, ::/0' }, /not every address \(got "::\/0"\)/);
    refuses({ ...env, TRUST_PROXY: '*' }, /TRUST_PROXY must be/);
    assert.equal(loadConfig({ ...env, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, ['10.0.0.0/8', '127.0.0.1']);
    assert.is(loadConfig({ ...env, TRUST_PROXY: '2' }).trustProxy, 2);
  }
});

test('production refuses insecure settings, each with a one-line reason', () => {
  refuses({ ...production, COOKIE_SECURE: 'false' }, /COOKIE_SECURE=false/);
  refuses({ ...production, TRUST_PROXY: 'true' }, /TRUST_PROXY=true/);
  refuses({ ...production, APP_ORIGIN: '' }, /APP_ORIGIN is not set/);
  refuses({ ...production, APP_ORIGIN: 'http://app.example.com' }, /must be https/);
  refuses({ ...production, DATABASE_URL: '' }, /DATABASE_URL is not set/);
  refuses({ ...production, TRUST_PROXY: 'everyone' }, /TRUST_PROXY must be/);
});

test('production refuses a database login that is superuser, BYPASSRLS or owns tables', () => {
  const config = loadConfig(production);
  const safe = { role: 'xms_app', superuser: false, bypassRls: false, ownedTables: 0, authKeyHeld: true };
  assert.equal(checkDatabaseRole(config, safe), []);
  assert.throws(() => checkDatabaseRole(config, { ...safe, role: 'postgres', superuser: true }), /superuser/);
  assert.throws(() => checkDatabaseRole(config, { ...safe, bypassRls: true }), /BYPASSRLS/);
  assert.throws(() => checkDatabaseRole(config, { ...safe, ownedTables: 3 }), /owns 3 table/);
  // outside production it only warns
  assert.is(checkDatabaseRole(loadConfig({ NODE_ENV: 'development' }), { ...safe, superuser: true }).length, 1);
});

test('every environment refuses a server whose auth key is not registered (src/db/auth-key.ts)', () => {
  const safe = { role: 'xms_app', superuser: false, bypassRls: false, ownedTables: 0, authKeyHeld: false };
  for (const env of [production, { NODE_ENV: 'development' }, { NODE_ENV: 'test' }]) {
    assert.throws(() => checkDatabaseRole(loadConfig(env), safe), /auth key is not registered/);
  }
});

test.run();
