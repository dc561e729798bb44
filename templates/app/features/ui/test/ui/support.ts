import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Browser, Page } from 'playwright-core';

export const WEB_DIR = join(process.cwd(), 'web');

/** Values that must never reach the bundle, put in the environment of the test build. */
export const CANARIES = [
  'canary-db-password-3f9a1c',
  'canary-secret-7b2e44',
  'canary-vite-secret-51d0aa',
];

/**
 * Builds the SPA with Vite's API into outDir, with canary secrets in the environment: DATABASE_URL,
 * a server secret, and even a VITE_-prefixed one (the app's code reads no build variable, so not
 * even that one may appear).
 */
export async function buildSpa(outDir: string): Promise<void> {
  const saved = { ...process.env };
  process.env.DATABASE_URL = `postgres://xms_app:${CANARIES[0]}@db.invalid:5432/app`;
  process.env.SESSION_SECRET = CANARIES[1];
  process.env.VITE_CANARY = CANARIES[2];
  try {
    const { build } = await import('vite');
    await build({
      configFile: join(WEB_DIR, 'vite.config.ts'),
      logLevel: 'error',
      build: { outDir, emptyOutDir: true },
    });
  } finally {
    for (const key of ['DATABASE_URL', 'SESSION_SECRET', 'VITE_CANARY']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

let shared: Promise<string> | undefined;

/**
 * One canary build per test process (uvu runs every test file in one process): the folder is
 * removed when the process exits.
 */
export function sharedBuild(): Promise<string> {
  shared ??= (async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'xms-ui-build-'));
    process.once('exit', () => rmSync(outDir, { recursive: true, force: true }));
    await buildSpa(outDir);
    return outDir;
  })();
  return shared;
}

/** The SPA's own sources (web/src). */
export function sourceFiles(dir = join(WEB_DIR, 'src')): { path: string; text: string }[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    if (!/\.(ts|tsx|css)$/.test(name)) return [];
    return [{ path: relative(process.cwd(), path), text: readFileSync(path, 'utf8') }];
  });
}

/** Source text without comments (block comments, whole-line and trailing `// ` comments). */
export function withoutComments(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
    .replace(/\s\/\/\s.*$/gm, '');
}

/**
 * Waits until `expression` is truthy in the page. Playwright's waitForFunction polls a string with
 * eval inside the page, which the app's CSP (no 'unsafe-eval') refuses whenever the first check is
 * false; page.evaluate goes through the DevTools protocol, outside the page's CSP, so poll from here.
 */
export async function waitInPage(page: { evaluate(expression: string): Promise<unknown> }, expression: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Where the browser tests keep their screenshots (git-ignored; CI keeps them as an artefact). */
export const SCREENSHOTS = join(process.cwd(), 'test-artifacts', 'screenshots');

interface CheckedPage {
  evaluate(expression: string): Promise<unknown>;
  viewportSize(): { width: number; height: number } | null;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  screenshot(options: { path: string; fullPage: boolean }): Promise<unknown>;
}

/**
 * The page as it is now, on a phone: at 390 px wide nothing overflows horizontally (the error names
 * the elements that stick out), and a screenshot is kept as test-artifacts/screenshots/<name>-390.png.
 * The viewport is put back afterwards, so a flow test checks each of its steps where it stands.
 */
export async function phoneCheck(page: CheckedPage, name: string): Promise<void> {
  const before = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    const wide = (await page.evaluate(`(() => {
      const width = document.documentElement.clientWidth;
      if (document.documentElement.scrollWidth <= width) return [];
      return [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > width + 0.5)
        .slice(0, 5)
        .map((el) => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : '') + ' ' + Math.round(el.getBoundingClientRect().right) + 'px');
    })()`)) as string[];
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-390.png`), fullPage: true });
    if (wide.length > 0) throw new Error(`${name} overflows at 390 px: ${wide.join(', ')}`);
  } finally {
    if (before) await page.setViewportSize(before);
  }
}

/** The browser of the browser tests: Debian's Chromium, or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Why a browser test fails without it: a browser test that cannot run never counts as passed. */
export const NO_CHROMIUM = `no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`;

/** Headless Chromium (playwright-core) with the flags a container without a GPU or sandbox needs. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * An init script (page.addInitScript) that lists every CSP violation in window.__csp. Installed by the
 * DevTools protocol, so the CSP under test does not apply to it.
 */
export const CSP_RECORDER =
  'window.__csp = []; document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));';

/** Waits for the log-in form, fills it and submits it. */
export async function logInOnPage(page: Page, email: string, password: string): Promise<void> {
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}
