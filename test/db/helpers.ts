/** Applies migration files + compiled SQL as the superuser, then checks RLS as xms_app. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Sql {
  exec(sql: string): Promise<unknown>;
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

export const T1 = '00000000-0000-4000-8000-000000000001';
export const T2 = '00000000-0000-4000-8000-000000000002';
export const U1 = '00000000-0000-4000-8000-0000000000a1';
export const U2 = '00000000-0000-4000-8000-0000000000b1';

export const SEED = `
insert into app.tenants (id, name) values ('${T1}', 'one'), ('${T2}', 'two');
insert into app.users (id) values ('${U1}'), ('${U2}');
insert into app.memberships (user_id, tenant_id, role) values ('${U1}', '${T1}', 'member'), ('${U2}', '${T2}', 'member');
insert into app.records (tenant_id, owner_id, title) values ('${T1}', '${U1}', 'one'), ('${T2}', '${U2}', 'two');
insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
values (sha256(convert_to('tok-1', 'UTF8')), '${U1}', '${T1}', 'xms_member', now() + interval '1 hour', now() + interval '1 day');
`;

export function readMigrations(dir: string, files: string[]): string[] {
  return files.map((f) => readFileSync(join(dir, f), 'utf8'));
}

/** Runs sql as xms_member with token tok-1 inside one transaction; returns rows or the error code. */
export async function asMember(db: Sql, sql: string, token = 'tok-1'): Promise<{ rows?: any[]; code?: string }> {
  await db.exec('begin');
  try {
    await db.exec('set local role xms_member');
    await db.query(`select set_config('app.session_token', $1, true)`, [token]);
    const r = await db.query(sql);
    return { rows: r.rows };
  } catch (err) {
    return { code: (err as { code?: string }).code ?? String(err) };
  } finally {
    await db.exec('rollback');
  }
}
