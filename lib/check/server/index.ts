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
 *     trust), ./password-hash.ts (SRV017), ./body-schemas.ts (SRV020: write bodies refuse unknown fields),
 *     ./log-secrets.ts (SRV021: the logs' redaction, serializers and the hand-built access line).
 * Each family (and the scan of each file) is a unit whose findings ./units.ts keeps under every input
 * it read.
 */
import { join } from 'node:path';
import { MissingModuleError } from '../database.js';
import { Syntax } from '../syntax.js';
import type { Finding } from '../types.js';
import { checkBodySchemas } from './body-schemas.js';
import { checkConfig } from './config-checks.js';
import { checkCookies } from './cookies.js';
import { checkCsrf } from './csrf.js';
import { checkDeployHeaders } from './deploy-headers.js';
import { checkHeaders, checkRootHeaderHook } from './headers.js';
import { checkLogSecrets, checkServerWiringIn } from './log-secrets.js';
import { checkMfaStep } from './mfa-step.js';
import { checkPasskeyStep } from './passkey-step.js';
import { checkPasswordHash } from './password-hash.js';
import { checkPasswordMinimum } from './password-min.js';
import { checkRateLimits } from './rate-limits.js';
import { checkRouteNamespaces } from './route-namespaces.js';
import { readInventory, type Scope } from './routes.js';
import { checkScopes } from './scopes.js';
import { checkSourceScan, sourceScanFiles } from './source-scan.js';
import { runUnits, type Unit } from './units.js';

export { headerProblems } from './deploy-headers.js';
export type { Scope } from './routes.js';

/** The units of the server checks (./units.ts caches each by the inputs it read), in report order. */
export function serverUnits(syntax: Syntax): Unit[] {
  const inventory = () => syntax.memo('inventory', () => readInventory(syntax));
  const routes = () => inventory()?.routes ?? [];
  return [
    {
      id: 'scopes',
      run: () => {
        const inv = inventory();
        return inv
          ? [...checkRootHeaderHook(syntax, inv), ...checkCsrf(syntax, inv), ...checkScopes(syntax, inv), ...checkRateLimits(syntax, inv)]
          : checkScopes(syntax, undefined);
      },
    },
    { id: 'headers', run: () => checkHeaders(syntax) },
    { id: 'cookies', run: () => checkCookies(syntax) },
    { id: 'password-min', run: () => checkPasswordMinimum(syntax) },
    { id: 'deploy-headers', run: () => checkDeployHeaders(syntax) },
    // one unit per file: a file's scan reads that file only
    ...sourceScanFiles(syntax).map((file) => ({ id: `scan:${syntax.rel(file)}`, run: () => [...checkSourceScan(syntax, [file]), ...checkServerWiringIn(syntax, file)] })),
    { id: 'config', run: () => checkConfig(syntax) },
    { id: 'password-hash', run: () => checkPasswordHash(syntax) },
    { id: 'route-namespaces', run: () => checkRouteNamespaces(routes()) },
    {
      id: 'mfa-step',
      run: () => checkMfaStep(syntax, routes(), inventory()?.publicList ?? new Set(), inventory()?.protectedHooks ?? [], inventory()?.scopeFns.protected),
    },
    { id: 'passkey-step', run: () => checkPasskeyStep(syntax) },
    { id: 'body-schemas', run: () => checkBodySchemas(syntax, routes().map((r) => join(syntax.appDir, r.module))) },
    { id: 'log-secrets', run: () => checkLogSecrets(syntax) },
  ];
}

/** The server checks' findings, and which units ran (the others came from the cache). */
export async function checkServerUnits(appDir: string): Promise<{ findings: Finding[]; ran: string[] }> {
  const syntax = await Syntax.load(appDir);
  try {
    const result = runUnits(syntax, serverUnits(syntax));
    syntax.keepCode();
    return result;
  } catch (error) {
    if (error instanceof MissingModuleError) throw error;
    // a stored value the checks could not use: every unit again, from the files alone (a check's own
    // error repeats here and is thrown)
    const fresh = await Syntax.load(appDir);
    return runUnits(fresh, serverUnits(fresh), { stored: false });
  }
}

export async function checkServer(appDir: string): Promise<Finding[]> {
  return (await checkServerUnits(appDir)).findings;
}

/** The routes as the check sees them (method, URL, scope, where), read from the source. */
export async function routeInventory(appDir: string): Promise<Array<{ method: string; url: string; scope: Scope; at: string }>> {
  const inventory = readInventory(await Syntax.load(appDir));
  return (inventory?.routes ?? []).map(({ method, url, scope, at }) => ({ method, url, scope, at }));
}
