/**
 * Compiles the permission matrix into
 *  - SQL: roles, table grants and one policy per table, action and role (`TO xms_<role>`), with the
 *    identity helpers wrapped as `(select app.current_tenant_id())`, and an index on every policy column;
 *  - a typed guard map for the server (`src/generated/permissions.ts`);
 *  - the data the generated tests iterate over (`src/generated/permissions.testdata.ts`).
 * Output is deterministic: tables and roles sorted, actions in the fixed order.
 */
import { ACTIONS, MatrixError, SCOPES, type Action, type AuditRules, type Matrix, type Scope } from './parse.js';
import type { ColumnInfo, SchemaInfo } from './schema.js';

export type TableKind = 'tenant-owned' | 'tenants' | 'users' | 'global' | 'audit_log';

export interface TableModel {
  /** name in the matrix */
  name: string;
  /** schema-qualified name */
  qualified: string;
  kind: TableKind;
  tenantColumn: string | null;
  ownerColumn: string | null;
  primaryKey: string[];
  /** NOT NULL columns without a default, other than the tenant and owner columns: name -> type */
  required: Record<string, string>;
  /** every column: name -> type */
  columnTypes: Record<string, string>;
  /** actions that may be granted at all */
  actions: Action[];
}

export interface Cell {
  role: string;
  table: string;
  action: Action;
  scope: Scope;
}

export interface TestData {
  roles: string[];
  tables: TableModel[];
  cells: Cell[];
  /** permissions.yml `audit:` (exemptions, redacted and ignored columns), by schema-qualified table */
  audit: AuditRules;
}

export interface Compiled {
  sql: string;
  guardMapTs: string;
  testDataTs: string;
  testData: TestData;
}

/** The audit log may be granted (select only) like a table, for the audit page of admins. */
export const AUDIT_LOG_TABLE: TableModel = {
  name: 'audit_log',
  qualified: 'audit.log',
  kind: 'audit_log',
  tenantColumn: 'tenant_id',
  ownerColumn: 'actor_id',
  primaryKey: ['id'],
  required: {},
  columnTypes: {
    id: 'int8', at: 'timestamptz', txid: 'int8', actor_id: 'uuid', tenant_id: 'uuid', db_role: 'text', action: 'text',
    table_name: 'text', row_key: 'jsonb', old_row: 'jsonb', new_row: 'jsonb',
  },
  actions: ['select'],
};

const OWNER_COLUMNS = ['owner_id', 'user_id', 'created_by'];
const TENANT = '(select app.current_tenant_id())';
const USER = '(select app.current_user_id())';

/** How the compiler sees each table of schema app (by convention: tenant_id, owner_id/user_id/created_by). */
export function tableModels(schema: SchemaInfo): TableModel[] {
  const models: TableModel[] = schema.tables.map((t) => {
    const has = (c: string) => t.columns.some((x) => x.name === c);
    let kind: TableKind;
    let tenantColumn: string | null = has('tenant_id') ? 'tenant_id' : null;
    let ownerColumn: string | null = OWNER_COLUMNS.find(has) ?? null;
    if (t.name === 'tenants') {
      kind = 'tenants';
      tenantColumn = 'id';
      ownerColumn = null;
    } else if (t.name === 'users') {
      kind = 'users';
      tenantColumn = null;
      ownerColumn = 'id';
    } else {
      kind = tenantColumn ? 'tenant-owned' : 'global';
    }
    const required: Record<string, string> = {};
    const columnTypes: Record<string, string> = {};
    for (const c of t.columns as ColumnInfo[]) {
      columnTypes[c.name] = c.type;
      if (c.notNull && !c.hasDefault && c.name !== tenantColumn && c.name !== ownerColumn) required[c.name] = c.type;
    }
    return {
      name: t.name,
      qualified: `app.${t.name}`,
      kind,
      tenantColumn,
      ownerColumn,
      primaryKey: [...t.primaryKey],
      required,
      columnTypes,
      actions: [...ACTIONS],
    };
  });
  return [...models, AUDIT_LOG_TABLE].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The tables the `audit:` section may name (every table of the migrations outside schema audit), with their columns. */
export function auditTableColumns(schema: SchemaInfo): Record<string, string[]> | undefined {
  if (!schema.allTables) return undefined;
  const out: Record<string, string[]> = {};
  for (const t of schema.allTables) if (!t.name.startsWith('audit.')) out[t.name] = t.columns.map((c) => c.name);
  return out;
}

/** The tables the matrix may name. */
export function knownTableNames(schema: SchemaInfo): string[] {
  return tableModels(schema).map((t) => t.name);
}

function ident(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** The row condition of a scope on a table (null for none). */
export function scopeCondition(table: TableModel, scope: Scope): string | null {
  switch (scope) {
    case 'none':
      return null;
    case 'all':
      return 'true';
    case 'tenant':
      if (table.kind === 'users') {
        return `id in (select m.user_id from app.memberships m where m.tenant_id = ${TENANT})`;
      }
      return `${ident(table.tenantColumn!)} = ${TENANT}`;
    case 'own': {
      const own = `${ident(table.ownerColumn!)} = ${USER}`;
      return table.tenantColumn && table.kind !== 'tenants' ? `${own} and ${ident(table.tenantColumn)} = ${TENANT}` : own;
    }
  }
}

function policyName(table: TableModel, action: Action, role: string): string {
  return `xms_${table.name}_${action}_${role}`;
}

/** Semantic checks that need the table models; errors carry the matrix line. */
function validate(matrix: Matrix, tables: TableModel[]): void {
  const problems: string[] = [];
  const at = (key: string) => `${matrix.file}:${matrix.lines[key] ?? 1}`;
  const byName = new Map(tables.map((t) => [t.name, t]));
  for (const [tableName, byRole] of Object.entries(matrix.cells)) {
    const table = byName.get(tableName);
    if (!table) continue;
    for (const [role, cell] of Object.entries(byRole)) {
      for (const action of ACTIONS) {
        const scope = cell[action];
        const key = `${tableName}.${role}.${action}`;
        if (scope === 'none') continue;
        if (!table.actions.includes(action)) {
          problems.push(`${at(key)}: ${key} must be none: ${table.qualified} is append-only (only select may be granted)`);
          continue;
        }
        if (scope === 'own' && !table.ownerColumn) {
          problems.push(`${at(key)}: ${key} is "own" but ${table.qualified} has no owner column (${OWNER_COLUMNS.join(', ')})`);
        }
        if (scope === 'tenant' && !table.tenantColumn && table.kind !== 'users') {
          problems.push(`${at(key)}: ${key} is "tenant" but ${table.qualified} has no tenant_id column`);
        }
        if (scope === 'tenant' && table.kind === 'users') {
          const m = matrix.cells['memberships']?.[role]?.select;
          if (m !== 'tenant' && m !== 'all') {
            problems.push(
              `${at(key)}: ${key} is "tenant", which reads app.memberships: memberships.${role}.select must be tenant or all`,
            );
          }
        }
        if ((action === 'update' || action === 'delete') && cell.select === 'none') {
          problems.push(
            `${at(key)}: ${key} is "${scope}" but ${tableName}.${role}.select is none: rows must be readable to be ${action}d (give select at least own)`,
          );
        }
        const name = policyName(table, action, role);
        if (name.length > 63) problems.push(`${at(key)}: policy name ${name} is longer than 63 characters: shorten the table or role name`);
      }
    }
  }
  if (problems.length) throw new MatrixError(problems);
}

const HEADER = `-- Generated by create-xms-app from permissions.yml. Do not edit this file: change permissions.yml
-- and run \`npm run db:migrate\` (it compiles the matrix first). An unchanged matrix writes nothing;
-- a changed one writes a new migration like this one, to review in the diff.
`;

export function compileMatrix(matrix: Matrix, schema: SchemaInfo): Compiled {
  const tables = tableModels(schema).filter((t) => t.name in matrix.cells);
  validate(matrix, tables);
  const roles = matrix.roles.map((r) => r.name).sort();
  const cells: Cell[] = [];
  for (const t of tables) for (const role of roles) for (const action of ACTIONS) {
    cells.push({ role, table: t.name, action, scope: matrix.cells[t.name]?.[role]?.[action] ?? 'none' });
  }
  const scopeOf = (table: string, role: string, action: Action): Scope =>
    matrix.cells[table]?.[role]?.[action] ?? 'none';

  const out: string[] = [HEADER];
  // human-readable summary for reviewers
  out.push('-- The matrix (select / insert / update / delete):');
  const width = Math.max(...tables.map((t) => t.name.length), 5);
  for (const t of tables) {
    const parts = roles.map((r) => `${r}: ${ACTIONS.map((a) => scopeOf(t.name, r, a)).join('/')}`);
    out.push(`--   ${t.name.padEnd(width)}  ${parts.join('  ')}`);
  }
  out.push('');

  // roles: idempotent, cluster-wide
  out.push('-- One request role per matrix role, granted to the runtime login role xms_app (NOINHERIT).');
  out.push('do $roles$');
  out.push('begin');
  for (const r of roles) {
    out.push(`  if not exists (select from pg_catalog.pg_roles where rolname = 'xms_${r}') then`);
    out.push(`    create role xms_${r} nologin;`);
    out.push('  end if;');
  }
  out.push('end');
  out.push('$roles$;');
  for (const r of roles) out.push(`grant xms_request to xms_${r};`);
  for (const r of roles) out.push(`grant xms_${r} to xms_app;`);
  out.push('');
  out.push('set role xms_owner;');
  out.push('');
  out.push('-- Start from nothing: drop every matrix policy (xms_*) and every table grant of the matrix roles,');
  out.push('-- so a cell turned to none, a removed role or a removed table leaves nothing behind.');
  out.push('do $reset$');
  out.push('declare');
  out.push('  p record;');
  out.push('begin');
  out.push('  for p in select schemaname, tablename, policyname from pg_catalog.pg_policies');
  out.push("            where schemaname in ('app', 'audit') and policyname like 'xms\\_%' loop");
  out.push("    execute pg_catalog.format('drop policy %I on %I.%I', p.policyname, p.schemaname, p.tablename);");
  out.push('  end loop;');
  out.push('  for p in select rolname from pg_catalog.pg_roles');
  out.push("            where rolname like 'xms\\_%'");
  out.push("              and rolname not in ('xms_owner', 'xms_app', 'xms_request', 'xms_anon', 'xms_auth') loop");
  out.push("    execute pg_catalog.format('revoke all on all tables in schema app from %I', p.rolname);");
  out.push("    execute pg_catalog.format('revoke all on audit.log from %I', p.rolname);");
  out.push('  end loop;');
  out.push('end');
  out.push('$reset$;');
  out.push('');

  for (const t of tables) {
    const block: string[] = [];
    const policyColumns = new Set<string>();
    for (const role of roles) {
      const granted = ACTIONS.filter((a) => scopeOf(t.name, role, a) !== 'none');
      if (granted.length && t.kind === 'audit_log') block.push(`grant usage on schema audit to xms_${role};`);
      if (granted.length) block.push(`grant ${granted.join(', ')} on ${t.qualified} to xms_${role};`);
    }
    for (const action of ACTIONS) {
      for (const role of roles) {
        const scope = scopeOf(t.name, role, action);
        const cond = scopeCondition(t, scope);
        if (cond === null) continue;
        if (scope === 'tenant' && t.tenantColumn) policyColumns.add(t.tenantColumn);
        if (scope === 'own') {
          policyColumns.add(t.ownerColumn!);
          if (t.tenantColumn && t.kind !== 'tenants') policyColumns.add(t.tenantColumn);
        }
        const name = policyName(t, action, role);
        const head = `create policy ${name} on ${t.qualified} for ${action} to xms_${role}`;
        if (action === 'select' || action === 'delete') block.push(`${head}\n  using (${cond});`);
        else if (action === 'insert') block.push(`${head}\n  with check (${cond});`);
        else block.push(`${head}\n  using (${cond})\n  with check (${cond});`);
      }
    }
    if (!block.length) continue;
    out.push(`-- ${t.qualified} (${t.kind}${t.tenantColumn ? `, tenant column ${t.tenantColumn}` : ''}${t.ownerColumn ? `, owner column ${t.ownerColumn}` : ''})`);
    out.push(...block);
    const cols = [...policyColumns].filter((c) => !(t.primaryKey[0] === c)).sort();
    if (cols.length) {
      out.push('-- every policy column is the leading column of an index');
      out.push(`do $index$`);
      out.push('begin');
      for (const c of cols) {
        const [schema, rel] = t.qualified.split('.') as [string, string];
        out.push(`  if not exists (select from pg_catalog.pg_index i join pg_catalog.pg_attribute a`);
        out.push(`                   on a.attrelid = i.indrelid and a.attnum = i.indkey[0]`);
        out.push(`                where i.indrelid = '${t.qualified}'::regclass and a.attname = '${c}') then`);
        out.push(`    create index ${rel}_${c}_xms_idx on ${schema}.${ident(rel)} (${ident(c)});`);
        out.push('  end if;');
      }
      out.push('end');
      out.push(`$index$;`);
    }
    out.push('');
  }
  out.push(...auditRulesSql(matrix.audit));
  out.push('reset role;');
  const sql = out.join('\n') + '\n';

  const testData: TestData = { roles, tables, cells, audit: matrix.audit };
  return { sql, guardMapTs: guardMap(matrix, roles, tables), testDataTs: testDataModule(testData), testData };
}

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
const textArray = (xs: string[]) => literal(`{${xs.join(',')}}`);
/** schema.table as format('%I.%I') spells it (the name audit.log_changes() looks the rules up by) */
const qualifiedIdent = (name: string) => name.split('.').map(ident).join('.');

/** audit.table_rules, rewritten whole: what audit.log_changes() redacts and ignores, and the declared exemptions. */
function auditRulesSql(audit: AuditRules): string[] {
  const names = [...new Set([...Object.keys(audit.exempt), ...Object.keys(audit.redact), ...Object.keys(audit.ignoreUpdatesOf)])].sort();
  const out = [
    '-- Audit rules (permissions.yml `audit:`): tables exempt from audit (with the reason), secret columns',
    '-- audit.log_changes() records as "[redacted]", columns whose change alone writes no audit row.',
    'delete from audit.table_rules;',
  ];
  if (names.length) {
    out.push('insert into audit.table_rules (table_name, exempt_reason, redact, ignore_updates_of) values');
    out.push(
      names
        .map((n) => {
          const reason = audit.exempt[n];
          return `  (${literal(qualifiedIdent(n))}, ${reason === undefined ? 'null' : literal(reason)}, ${textArray(audit.redact[n] ?? [])}, ${textArray(audit.ignoreUpdatesOf[n] ?? [])})`;
        })
        .join(',\n') + ';',
    );
  }
  out.push('');
  return out;
}

function guardMap(matrix: Matrix, roles: string[], tables: TableModel[]): string {
  const lines: string[] = [];
  lines.push('// Generated by create-xms-app from permissions.yml: do not edit. Run `npm run db:migrate` to update.');
  lines.push('// The server refuses early with a 403 from this map; the database (RLS) still decides.');
  lines.push('');
  lines.push(`export const roles = [${roles.map((r) => `'${r}'`).join(', ')}] as const;`);
  lines.push('export type Role = (typeof roles)[number];');
  lines.push(`export const tables = [${tables.map((t) => `'${t.name}'`).join(', ')}] as const;`);
  lines.push('export type Table = (typeof tables)[number];');
  lines.push(`export const actions = [${ACTIONS.map((a) => `'${a}'`).join(', ')}] as const;`);
  lines.push('export type Action = (typeof actions)[number];');
  lines.push(`export type Scope = ${SCOPES.map((s) => `'${s}'`).join(' | ')};`);
  lines.push('');
  lines.push('/** role -> table -> action -> scope */');
  lines.push('export const permissions: Readonly<Record<Role, Readonly<Record<Table, Readonly<Record<Action, Scope>>>>>> = {');
  for (const r of roles) {
    lines.push(`  ${r}: {`);
    for (const t of tables) {
      const c = matrix.cells[t.name]?.[r];
      lines.push(`    ${t.name}: { ${ACTIONS.map((a) => `${a}: '${c?.[a] ?? 'none'}'`).join(', ')} },`);
    }
    lines.push('  },');
  }
  lines.push('};');
  lines.push('');
  lines.push('export function isRole(value: unknown): value is Role {');
  lines.push('  return typeof value === \'string\' && (roles as readonly string[]).includes(value);');
  lines.push('}');
  lines.push('');
  lines.push('/** The scope a role has for an action on a table; none for an unknown role. */');
  lines.push('export function scopeOf(role: string | null | undefined, table: Table, action: Action): Scope {');
  lines.push("  return isRole(role) ? permissions[role][table][action] : 'none';");
  lines.push('}');
  lines.push('');
  lines.push('/** permissions.yml `audit:` (schema-qualified tables): exemptions with their reason, redacted and ignored columns. */');
  lines.push(`export const audit: {
  readonly exempt: Readonly<Record<string, string>>;
  readonly redact: Readonly<Record<string, readonly string[]>>;
  readonly ignoreUpdatesOf: Readonly<Record<string, readonly string[]>>;
} = ${JSON.stringify(matrix.audit, null, 2)};`);
  lines.push('');
  lines.push('/** Whether a role may perform an action on a table at all (rows are still filtered by RLS). */');
  lines.push('export function can(role: string | null | undefined, table: Table, action: Action): boolean {');
  lines.push("  return scopeOf(role, table, action) !== 'none';");
  lines.push('}');
  return lines.join('\n') + '\n';
}

function testDataModule(data: TestData): string {
  return (
    '// Generated by create-xms-app from permissions.yml: do not edit. The matrix tests iterate over it.\n\n' +
    "import type { Action, Role, Scope, Table } from './permissions.js';\n\n" +
    'export interface TableModel {\n' +
    '  name: Table;\n  qualified: string;\n' +
    "  kind: 'tenant-owned' | 'tenants' | 'users' | 'global' | 'audit_log';\n" +
    '  tenantColumn: string | null;\n  ownerColumn: string | null;\n  primaryKey: string[];\n' +
    '  required: Record<string, string>;\n  columnTypes: Record<string, string>;\n  actions: Action[];\n}\n\n' +
    'export interface Cell {\n  role: Role;\n  table: Table;\n  action: Action;\n  scope: Scope;\n}\n\n' +
    'export interface AuditRules {\n  exempt: Record<string, string>;\n  redact: Record<string, string[]>;\n  ignoreUpdatesOf: Record<string, string[]>;\n}\n\n' +
    `export const testData: { roles: Role[]; tables: TableModel[]; cells: Cell[]; audit: AuditRules } = ${JSON.stringify(data, null, 2)};\n`
  );
}
