/** Positions of fixture rows relative to an actor, shared by the matrix, tenancy and audit tests. */
import type { Scope } from '../../src/generated/permissions.js';
import type { TableModel } from '../../src/generated/permissions.testdata.js';
import { insertRowSql, type Fixtures, type FixtureUser } from './db.js';

export type Position = 'own' | 'peer' | 'foreign';

/** Which positions a scope reaches. */
export function reaches(table: TableModel, scope: Scope, position: Position): boolean {
  if (scope === 'all') return true;
  if (scope === 'none') return false;
  if (scope === 'tenant') return position !== 'foreign';
  return position === 'own';
}

/** The positions a table has, with the SQL filter selecting that fixture row. */
export function positions(table: TableModel, f: Fixtures, actor: FixtureUser): { position: Position; where: string }[] {
  const foreignUser = f.actor(actor.role!, 2);
  const q = (v: string) => `'${v}'`;
  if (table.kind === 'tenants') {
    return [
      { position: 'peer', where: `id = ${q(f.tenant1)}` },
      { position: 'foreign', where: `id = ${q(f.tenant2)}` },
    ];
  }
  if (table.kind === 'users') {
    return [
      { position: 'own', where: `id = ${q(actor.id)}` },
      { position: 'peer', where: `id = ${q(f.peer.id)}` },
      { position: 'foreign', where: `id = ${q(foreignUser.id)}` },
    ];
  }
  const at = (owner: FixtureUser, tenant: string) =>
    [table.ownerColumn ? `${table.ownerColumn} = ${q(owner.id)}` : null, table.tenantColumn ? `${table.tenantColumn} = ${q(tenant)}` : null]
      .filter(Boolean)
      .join(' and ') || 'true';
  if (!table.ownerColumn) {
    return table.tenantColumn
      ? [
          { position: 'peer', where: at(actor, f.tenant1) },
          { position: 'foreign', where: at(actor, f.tenant2) },
        ]
      : [{ position: 'foreign', where: 'true' }];
  }
  return [
    { position: 'own', where: at(actor, f.tenant1) },
    { position: 'peer', where: at(f.peer, f.tenant1) },
    { position: 'foreign', where: at(foreignUser, f.tenant2) },
  ];
}

/** New rows to insert per position (skipping positions whose row cannot be new). */
export function inserts(table: TableModel, f: Fixtures, actor: FixtureUser): { position: Position; sql: string }[] {
  const foreignUser = f.actor(actor.role!, 2);
  if (table.kind === 'tenants') return [{ position: 'foreign', sql: `insert into app.tenants (name) values ('new tenant')` }];
  if (table.kind === 'users') return [{ position: 'foreign', sql: `insert into app.users (display_name) values ('new user')` }];
  if (table.name === 'memberships') {
    // the loner belongs nowhere yet: a new membership of tenant 1 / tenant 2
    return [
      { position: 'peer', sql: insertRowSql(table, f.loner.id, f.tenant1, f, false) },
      { position: 'foreign', sql: insertRowSql(table, f.loner.id, f.tenant2, f, false) },
    ];
  }
  if (!table.ownerColumn && !table.tenantColumn) return [{ position: 'foreign', sql: insertRowSql(table, null, null, f, false) }];
  if (!table.ownerColumn) {
    return [
      { position: 'peer', sql: insertRowSql(table, null, f.tenant1, f, false) },
      { position: 'foreign', sql: insertRowSql(table, null, f.tenant2, f, false) },
    ];
  }
  return [
    { position: 'own', sql: insertRowSql(table, actor.id, f.tenant1, f, false) },
    { position: 'peer', sql: insertRowSql(table, f.peer.id, f.tenant1, f, false) },
    { position: 'foreign', sql: insertRowSql(table, foreignUser.id, f.tenant2, f, false) },
  ];
}

export function updateSql(table: TableModel, where: string): string {
  const col = table.tenantColumn ?? table.ownerColumn ?? table.primaryKey[0]!;
  return `update ${table.qualified} set ${col} = ${col} where ${where}`;
}

