/**
 * Build and repository checks (invariant I15): no database URL, secret or privileged key in the built
 * browser bundle; `.env` not tracked by git.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Finding } from './types.js';

/** Where browser bundles are built (Vite `outDir`s found in vite.config.* are added). */
export const BUNDLE_DIRS = ['dist/public', 'dist/client', 'dist/web', 'dist/ui', 'web/dist', 'ui/dist', 'client/dist', 'frontend/dist'];
const BUNDLE_EXT = /\.(?:m?js|cjs|css|html?|map|json|txt|svg)$/i;
const SECRET_KEY = /DATABASE_URL|SECRET|SERVICE_ROLE|PASSWORD|PRIVATE|TOKEN|API_KEY/i;

function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    out[m[1]!] = value;
  }
  return out;
}

/** Vite outDirs declared in vite.config.* at the root or one folder down. */
function viteOutDirs(appDir: string): string[] {
  const out: string[] = [];
  const configs: string[] = [];
  for (const dir of ['.', ...safeList(appDir).filter((d) => !d.startsWith('.') && d !== 'node_modules')]) {
    for (const f of safeList(join(appDir, dir))) if (/^vite\.config\.[cm]?[jt]s$/.test(f)) configs.push(join(dir, f));
  }
  for (const config of configs) {
    const text = readFileSync(join(appDir, config), 'utf8');
    const m = /outDir\s*:\s*(?:fileURLToPath\(\s*new\s+URL\(\s*|resolve\([^,]*,\s*|join\([^,]*,\s*)?['"`]([^'"`]+)['"`]/.exec(text);
    const base = join(config, '..');
    out.push(m ? join(base, m[1]!) : join(base, 'dist'));
  }
  return out;
}

function safeList(dir: string): string[] {
  try {
    return statSync(dir).isDirectory() ? readdirSync(dir) : [];
  } catch {
    return [];
  }
}

function walk(dir: string, files: string[] = []): string[] {
  for (const entry of safeList(dir)) {
    const p = join(dir, entry);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, files);
    else if (BUNDLE_EXT.test(entry) && st.size < 20 * 1024 * 1024) files.push(p);
  }
  return files;
}

function jwtRole(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { role?: unknown };
    return typeof payload.role === 'string' ? payload.role : undefined;
  } catch {
    return undefined;
  }
}

export function checkBundle(appDir: string, env: NodeJS.ProcessEnv = process.env): Finding[] {
  const out: Finding[] = [];
  const dirs = [...new Set([...BUNDLE_DIRS, ...viteOutDirs(appDir)])].filter((d) => existsSync(join(appDir, d)));
  if (dirs.length === 0) {
    return [{
      id: 'BLD002-no-bundle',
      severity: 'info',
      object: BUNDLE_DIRS.join(', '),
      message: 'no browser bundle found: nothing to scan (build the UI first to check it)',
      fix: 'run the UI build before xms check in CI',
    }];
  }
  // values that must never reach the browser: DATABASE_URL and secret-looking settings
  const secrets = new Map<string, string>();
  const dotenv = existsSync(join(appDir, '.env')) ? parseDotenv(readFileSync(join(appDir, '.env'), 'utf8')) : {};
  for (const [key, value] of [...Object.entries(dotenv), ...Object.entries(env)]) {
    if (value && value.length >= 8 && SECRET_KEY.test(key) && !/^(true|false|\d+)$/i.test(value)) secrets.set(value, key);
  }
  for (const dir of dirs) {
    for (const file of walk(join(appDir, dir))) {
      const text = readFileSync(file, 'utf8');
      const rel = relative(appDir, file);
      const lineOf = (index: number) => text.slice(0, index).split('\n').length;
      const report = (index: number, message: string) =>
        out.push({
          id: 'BLD001-secret-in-bundle',
          severity: 'error',
          object: `${rel}:${lineOf(index)}`,
          message,
          fix: 'never import server config (process.env, src/config.ts, DATABASE_URL) into browser code; only VITE_ public values belong there. Rotate the leaked secret.',
        });
      for (const m of text.matchAll(/postgres(?:ql)?:\/\/[^\s'"`<>)]+/gi)) report(m.index, `a PostgreSQL connection URL (${redact(m[0])}) is in the browser bundle`);
      for (const [value, key] of secrets) {
        const i = text.indexOf(value);
        if (i >= 0) report(i, `the value of ${key} is in the browser bundle`);
      }
      for (const m of text.matchAll(/eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}/g)) {
        if (jwtRole(m[0]) === 'service_role') report(m.index, 'a Supabase service_role key (bypasses RLS) is in the browser bundle');
      }
      for (const m of text.matchAll(/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/g)) report(m.index, 'a private key is in the browser bundle');
    }
  }
  return out;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}

export function checkEnvFiles(appDir: string): Finding[] {
  const out: Finding[] = [];
  let tracked: string[] = [];
  try {
    tracked = execFileSync('git', ['ls-files', '-z', '--', '.env', '.env.*', '**/.env', '**/.env.*'], {
      cwd: appDir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\0')
      .filter(Boolean);
  } catch {
    // not a git repository (or no git): nothing is tracked
  }
  for (const f of tracked) {
    if (/\.(example|sample|template|dist)$/.test(f)) continue;
    out.push({
      id: 'REPO001-env-tracked',
      severity: 'error',
      object: f,
      message: `${f} is tracked by git: its secrets are in the history`,
      fix: `git rm --cached ${f}, keep it in .gitignore, and rotate every secret it held`,
    });
  }
  const ignore = existsSync(join(appDir, '.gitignore')) ? readFileSync(join(appDir, '.gitignore'), 'utf8') : '';
  const ignored = ignore.split(/\r?\n/).some((l) => /^\/?\.env(\*|\.\*)?\s*$/.test(l.trim()));
  if (!ignored) {
    out.push({
      id: 'REPO002-env-not-ignored',
      severity: 'warning',
      object: '.gitignore',
      message: '.gitignore does not ignore .env',
      fix: 'add the line .env (and .env.*, with !.env.example) to .gitignore',
    });
  }
  return out;
}
