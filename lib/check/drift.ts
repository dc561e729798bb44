/**
 * Policy drift (invariant I6): the live policies must equal what permissions.yml compiles to, plus the
 * policies of the xms base migrations. Both sides are read from pg_policies, i.e. as PostgreSQL
 * deparses them, so formatting never causes a false drift: the expected side is a database where the
 * migrations were applied and then the freshly compiled matrix SQL (it drops every xms_* policy first).
 */
import { basename } from 'node:path';
import { POLICIES_SQL, policyDefinition, policyKey, type PolicyRow } from './database.js';
import type { Finding, Queryable } from './types.js';

/** Migrations written by create-xms-app itself (other than the compiled matrix): their policies are infrastructure. */
export function isXmsInfrastructure(file: string): boolean {
  const name = basename(file);
  return /^\d+_xms_[a-z0-9_]+\.sql$/.test(name) && !/_xms_permissions\.sql$/.test(name);
}

export async function readPolicies(db: Queryable): Promise<PolicyRow[]> {
  return (await db.query<PolicyRow>(POLICIES_SQL)).rows;
}

/** The expected policies on a database holding the migrations: apply the compiled SQL (then read). */
export async function expectedPolicies(scratch: Queryable, compiledSql: string, options: { rollback: boolean }): Promise<PolicyRow[]> {
  await scratch.exec('begin');
  try {
    await scratch.exec(`${compiledSql}\n;\nreset role;`);
    return await readPolicies(scratch);
  } finally {
    await scratch.exec(options.rollback ? 'rollback' : 'commit');
  }
}

const isMatrixPolicy = (p: PolicyRow) => p.policyname.startsWith('xms_') && (p.schemaname === 'app' || p.schemaname === 'audit');

export function comparePolicies(
  live: PolicyRow[],
  expectedAll: PolicyRow[],
  policyOrigin: Map<string, string>,
  appSchemas: (schema: string) => boolean,
): Finding[] {
  const out: Finding[] = [];
  const expected = new Map<string, PolicyRow>();
  const handWritten = new Set<string>();
  for (const p of expectedAll) {
    if (!appSchemas(p.schemaname)) continue;
    const key = policyKey(p);
    const origin = policyOrigin.get(key);
    if (isMatrixPolicy(p) || origin === undefined || isXmsInfrastructure(origin)) {
      expected.set(key, p);
    } else {
      handWritten.add(key);
      out.push({
        id: 'DB004-policy-outside-matrix',
        severity: 'error',
        object: `${p.schemaname}.${p.tablename} policy ${p.policyname} (${origin})`,
        message: `a policy written by hand in ${origin}: ${policyDefinition(p)}`,
        fix: 'remove it and grant the access in permissions.yml (npm run db:migrate compiles it into reviewed policies)',
      });
    }
  }
  const liveMap = new Map(live.filter((p) => appSchemas(p.schemaname)).map((p) => [policyKey(p), p]));
  for (const [key, p] of expected) {
    const l = liveMap.get(key);
    const object = `${p.schemaname}.${p.tablename} policy ${p.policyname}`;
    if (!l) {
      out.push({
        id: 'DB003-policy-drift',
        severity: 'error',
        object,
        message: `missing from the database: ${policyDefinition(p)}`,
        fix: 'run npm run db:migrate (it compiles permissions.yml and applies the pending migrations)',
      });
    } else if (policyDefinition(l) !== policyDefinition(p)) {
      out.push({
        id: 'DB003-policy-drift',
        severity: 'error',
        object,
        message: `differs from permissions.yml: live "${policyDefinition(l)}", compiled "${policyDefinition(p)}"`,
        fix: 'never edit policies or the compiled *_xms_permissions.sql by hand: change permissions.yml and run npm run db:migrate',
      });
    }
  }
  for (const [key, l] of liveMap) {
    if (expected.has(key) || handWritten.has(key)) continue;
    out.push({
      id: 'DB003-policy-drift',
      severity: 'error',
      object: `${l.schemaname}.${l.tablename} policy ${l.policyname}`,
      message: `in the database but neither in permissions.yml nor in the migrations: ${policyDefinition(l)}`,
      fix: `drop policy ${l.policyname} on ${l.schemaname}.${l.tablename}; and grant what is needed in permissions.yml`,
    });
  }
  return out;
}
