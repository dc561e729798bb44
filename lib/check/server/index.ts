/**
 * Server and source checks of `xms check` (invariants I1, I2, I9, I11, I12, I13): the app's TypeScript
 * is parsed with the TypeScript compiler API (syntax trees only: no type-checking, no execution) and
 * the security-relevant structure is read from it, one module per finding family, every file parsed
 * once for all of them (one ../syntax.ts instance):
 *   - ./routes.ts: the route inventory (scopes, routes, the public list, guard and root hooks), which
 *     ./scopes.ts (SRV001-SRV004), ./rate-limits.ts (SRV010), ./headers.ts and ./csrf.ts (the root
 *     hooks: SRV005, SRV014), ./route-namespaces.ts (SRV018) and ./mfa-step.ts (SRV019) judge;
 *   - ./headers.ts: CSP, HSTS and framing options of src/security/headers.ts (SRV005-SRV007);
 *   - ./cookies.ts (SRV008), ./password-min.ts (SRV009), ./deploy-headers.ts (SRV013),
 *     ./source-scan.ts (SRV011, SRV012), ./config-checks.ts (SRV015, SRV016: session lifetimes, proxy
 *     trust), ./password-hash.ts (SRV017), ./body-schemas.ts (SRV020: write bodies refuse unknown fields).
 */
import { join } from 'node:path';
import { Syntax } from '../syntax.js';
import type { Finding } from '../types.js';
import { checkBodySchemas } from './body-schemas.js';
import { checkConfig } from './config-checks.js';
import { checkCookies } from './cookies.js';
import { checkCsrf } from './csrf.js';
import { checkDeployHeaders } from './deploy-headers.js';
import { checkHeaders, checkRootHeaderHook } from './headers.js';
import { checkMfaStep } from './mfa-step.js';
import { checkPasskeyStep } from './passkey-step.js';
import { checkPasswordHash } from './password-hash.js';
import { checkPasswordMinimum } from './password-min.js';
import { checkRateLimits } from './rate-limits.js';
import { checkRouteNamespaces } from './route-namespaces.js';
import { readInventory, type Scope } from './routes.js';
import { checkScopes } from './scopes.js';
import { checkSourceScan } from './source-scan.js';

export { headerProblems } from './deploy-headers.js';
export type { Scope } from './routes.js';

export async function checkServer(appDir: string): Promise<Finding[]> {
  const syntax = await Syntax.load(appDir);
  const inventory = readInventory(syntax);
  const findings: Finding[] = [];
  if (inventory) {
    findings.push(...checkRootHeaderHook(syntax, inventory), ...checkCsrf(syntax, inventory), ...checkScopes(syntax, inventory), ...checkRateLimits(syntax, inventory));
  } else {
    findings.push(...checkScopes(syntax, undefined));
  }
  findings.push(...checkHeaders(syntax), ...checkCookies(syntax), ...checkPasswordMinimum(syntax), ...checkDeployHeaders(appDir), ...checkSourceScan(syntax));
  const routes = inventory?.routes ?? [];
  findings.push(...checkConfig(syntax), ...checkPasswordHash(syntax), ...checkRouteNamespaces(routes));
  findings.push(...checkMfaStep(appDir, routes, inventory?.publicList ?? new Set(), inventory?.protectedHooks ?? []), ...checkPasskeyStep(syntax));
  findings.push(...checkBodySchemas(syntax, routes.map((r) => join(appDir, r.module))));
  return findings;
}

/** The routes as the check sees them (method, URL, scope, where), read from the source. */
export async function routeInventory(appDir: string): Promise<Array<{ method: string; url: string; scope: Scope; at: string }>> {
  const inventory = readInventory(await Syntax.load(appDir));
  return (inventory?.routes ?? []).map(({ method, url, scope, at }) => ({ method, url, scope, at }));
}
