/**
 * SRV013 of `xms check` (invariant I11): the headers of the deploy configs (netlify.toml,
 * vercel.json), where the app has them, are as strict as the server's own. None is fine: the server
 * sends the headers itself.
 */
import { join } from 'node:path';
import { finding, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';

const ID = 'SRV013-deploy-headers';

export function checkDeployHeaders(syntax: Syntax): Finding[] {
  const appDir = syntax.appDir;
  const fix = 'regenerate them from src/security/headers.ts (npm run headers:write); never edit the headers by hand';
  const configs: Array<[string, Map<string, string> | undefined]> = [];
  const netlify = join(appDir, 'netlify.toml');
  const netlifyText = syntax.read(netlify);
  if (netlifyText !== undefined) {
    const headers = new Map<string, string>();
    for (const m of netlifyText.matchAll(/^\s*"?([A-Za-z][A-Za-z0-9-]*)"?\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/gm)) {
      headers.set(m[1]!.toLowerCase(), m[2]!.replace(/\\"/g, '"'));
    }
    configs.push(['netlify.toml', headers]);
  }
  const vercel = join(appDir, 'vercel.json');
  const vercelText = syntax.read(vercel);
  if (vercelText !== undefined) {
    let headers: Map<string, string> | undefined = new Map();
    try {
      const json = JSON.parse(vercelText) as { headers?: Array<{ source?: string; headers?: Array<{ key: string; value: string }> }> };
      const all = (json.headers ?? []).find((h) => h.source === '/(.*)' || h.source === '/:path*') ?? json.headers?.[0];
      for (const h of all?.headers ?? []) headers.set(String(h.key).toLowerCase(), String(h.value));
    } catch {
      headers = undefined;
    }
    configs.push(['vercel.json', headers]);
  }
  // none is fine: the server sends the headers itself (the app deploys as a container, see its Dockerfile)
  const out: Finding[] = [];
  for (const [file, headers] of configs) {
    if (!headers) {
      out.push(finding(ID, file, 'cannot be parsed', fix));
      continue;
    }
    for (const problem of headerProblems(headers)) out.push(finding(ID, file, problem, fix));
  }
  return out;
}

/** What is wrong with a set of response headers (lower-case names), per invariant I11. */
export function headerProblems(headers: Map<string, string>): string[] {
  const out: string[] = [];
  const csp = headers.get('content-security-policy');
  if (!csp) out.push('no Content-Security-Policy');
  else {
    const directives = new Map(
      csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map((d) => [d[0]!.toLowerCase(), d.slice(1)] as const),
    );
    const script = directives.get('script-src') ?? directives.get('default-src');
    if (!script) out.push('CSP without script-src or default-src');
    for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'http:', 'https:']) if (script?.includes(bad)) out.push(`CSP script-src allows ${bad}`);
    if ((directives.get('frame-ancestors') ?? []).join(' ') !== "'none'") out.push("CSP frame-ancestors is not 'none'");
  }
  const hsts = headers.get('strict-transport-security');
  const maxAge = Number(/max-age=(\d+)/i.exec(hsts ?? '')?.[1] ?? NaN);
  if (!hsts) out.push('no Strict-Transport-Security');
  else if (!(maxAge >= 31536000) || !/includesubdomains/i.test(hsts)) out.push(`Strict-Transport-Security "${hsts}" is below max-age=31536000; includeSubDomains`);
  if ((headers.get('x-content-type-options') ?? '').toLowerCase() !== 'nosniff') out.push('no X-Content-Type-Options: nosniff');
  if (!headers.get('referrer-policy')) out.push('no Referrer-Policy');
  return out;
}
