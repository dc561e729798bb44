/**
 * The permission matrix file (permissions.yml): roles x tables x actions -> scope.
 *
 *   roles:
 *     admin: Tenant administrators        # role name: description
 *     member: Everyone else in a tenant
 *   tables:
 *     records:
 *       admin: tenant                     # one scope for every action
 *       member: { select: tenant, insert: own, update: own, delete: own }
 *
 *   audit:                                # optional: the exceptions to "every table is audited, in clear"
 *     exempt:                             # tables without audit triggers, each with its reason
 *       app_private.auth_rate_limits: counters of failed attempts; churn, no personal data
 *     redact:                             # secret columns, recorded as "[redacted]", never copied
 *       app_private.credentials: [password_hash]
 *     ignore_updates_of:                  # an UPDATE changing only these columns writes no audit row
 *       app_private.sessions: [last_seen_at, idle_expires_at]
 *
 * Audit tables are schema-qualified (a bare name means schema app). Absent means none. Errors name
 * the file and line:
 *   permissions.yml:12: unknown scope "tenantt" for records.member.select (expected none, own, tenant, all)
 */
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Node as YamlNode, type Pair } from 'yaml';

/** The YAML functions the generators' kit edits permissions.yml with (one copy of yaml, loaded with this parser). */
export { parseDocument, isMap };

export const ACTIONS = ['select', 'insert', 'update', 'delete'] as const;
export type Action = (typeof ACTIONS)[number];
export const SCOPES = ['none', 'own', 'tenant', 'all'] as const;
export type Scope = (typeof SCOPES)[number];

/** Roles the base migration creates itself; a matrix role may not take these names. */
export const RESERVED_ROLES = ['anon', 'auth', 'owner', 'app', 'request', 'public'];
export const ROLE_NAME = /^[a-z][a-z0-9_]{0,29}$/;

export interface MatrixRole {
  name: string;
  description: string;
  line: number;
}

export interface Matrix {
  file: string;
  roles: MatrixRole[];
  /** table -> role -> action -> scope, every cell present (absent in the file = none) */
  cells: Record<string, Record<string, Record<Action, Scope>>>;
  /** line of each given cell, `table.role.action` -> line (for errors found later) */
  lines: Record<string, number>;
  /** the `audit:` section, by schema-qualified table name */
  audit: AuditRules;
}

export interface AuditRules {
  /** table -> why it carries no audit trigger */
  exempt: Record<string, string>;
  /** table -> secret columns, redacted in audit.log */
  redact: Record<string, string[]>;
  /** table -> columns whose change alone writes no audit row */
  ignoreUpdatesOf: Record<string, string[]>;
}

export const AUDIT_KEYS = ['exempt', 'redact', 'ignore_updates_of'] as const;

export class MatrixError extends Error {
  constructor(public readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'MatrixError';
  }
}

export interface ParseOptions {
  /** shown in errors; default permissions.yml */
  file?: string;
  /** tables the matrix may name (from the migrations); all names are accepted when omitted */
  tables?: string[];
  /**
   * schema-qualified tables the `audit:` section may name, with their columns (from the migrations);
   * any table and column is accepted when omitted
   */
  auditTables?: Record<string, string[]>;
}

export function parseMatrix(source: string, options: ParseOptions = {}): Matrix {
  const file = options.file ?? 'permissions.yml';
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const problems: string[] = [];
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined): number =>
    node?.range ? lineCounter.linePos(node.range[0]).line : 1;
  const fail = (node: { range?: [number, number, number] | null } | null | undefined, msg: string) =>
    problems.push(`${file}:${lineOf(node)}: ${msg}`);

  for (const e of doc.errors) problems.push(`${file}:${lineCounter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
  if (problems.length) throw new MatrixError(problems);

  const matrix: Matrix = { file, roles: [], cells: {}, lines: {}, audit: { exempt: {}, redact: {}, ignoreUpdatesOf: {} } };
  const root = doc.contents;
  if (!isMap(root)) throw new MatrixError([`${file}:1: expected a mapping with "roles" and "tables"`]);

  let rolesNode: YamlNode | null = null;
  let tablesNode: YamlNode | null = null;
  let auditNode: YamlNode | null = null;
  for (const pair of root.items as Pair<YamlNode, YamlNode>[]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key === 'roles') rolesNode = pair.value;
    else if (key === 'tables') tablesNode = pair.value;
    else if (key === 'audit') auditNode = pair.value ?? null;
    else if (key === 'version') {
      if (!isScalar(pair.value) || pair.value.value !== 1) fail(pair.value ?? pair.key, 'unsupported version (expected 1)');
    } else fail(pair.key, `unknown key "${key}" (expected version, roles, tables, audit)`);
  }

  // roles: a mapping name -> description, or a list of names
  if (isMap(rolesNode)) {
    for (const pair of rolesNode.items as Pair<YamlNode, YamlNode>[]) {
      const name = isScalar(pair.key) ? String(pair.key.value) : '';
      const description = isScalar(pair.value) && pair.value.value != null ? String(pair.value.value) : '';
      addRole(name, description, pair.key);
    }
  } else if (isSeq(rolesNode)) {
    for (const item of rolesNode.items as YamlNode[]) addRole(isScalar(item) ? String(item.value) : '', '', item);
  } else {
    fail(rolesNode ?? root, 'missing "roles": a mapping of role name to description');
  }

  function addRole(name: string, description: string, node: YamlNode | null) {
    if (!ROLE_NAME.test(name)) {
      fail(node, `invalid role name "${name}" (lower case letters, digits and _, starting with a letter, at most 30)`);
    } else if (RESERVED_ROLES.includes(name)) {
      fail(node, `role name "${name}" is reserved (xms_${name} is created by the base migration)`);
    } else if (matrix.roles.some((r) => r.name === name)) {
      fail(node, `duplicate role "${name}"`);
    } else {
      matrix.roles.push({ name, description, line: lineOf(node) });
    }
  }
  const roleNames = matrix.roles.map((r) => r.name);
  const knownTables = options.tables ? [...options.tables].sort() : undefined;

  if (tablesNode !== null && !isMap(tablesNode)) fail(tablesNode, 'expected "tables" to be a mapping of table name to roles');
  const tablePairs = isMap(tablesNode) ? (tablesNode.items as Pair<YamlNode, YamlNode>[]) : [];
  for (const tpair of tablePairs) {
    const table = isScalar(tpair.key) ? String(tpair.key.value) : '';
    if (knownTables && !knownTables.includes(table)) {
      fail(tpair.key, `unknown table "${table}" (known tables: ${knownTables.join(', ')})`);
      continue;
    }
    const byRole = (matrix.cells[table] ??= {});
    if (tpair.value == null || (isScalar(tpair.value) && tpair.value.value == null)) continue;
    if (!isMap(tpair.value)) {
      fail(tpair.value, `expected ${table} to map role names to scopes`);
      continue;
    }
    for (const rpair of tpair.value.items as Pair<YamlNode, YamlNode>[]) {
      const role = isScalar(rpair.key) ? String(rpair.key.value) : '';
      if (!roleNames.includes(role)) {
        fail(rpair.key, `unknown role "${role}" in ${table} (declared roles: ${roleNames.join(', ') || 'none'})`);
        continue;
      }
      const cell = (byRole[role] ??= { select: 'none', insert: 'none', update: 'none', delete: 'none' });
      const v = rpair.value;
      if (isScalar(v)) {
        // one scope for every action
        const scope = checkScope(v, `${table}.${role}`);
        if (scope) for (const a of ACTIONS) {
          cell[a] = scope;
          matrix.lines[`${table}.${role}.${a}`] = lineOf(v);
        }
      } else if (isMap(v)) {
        for (const apair of v.items as Pair<YamlNode, YamlNode>[]) {
          const action = isScalar(apair.key) ? String(apair.key.value) : '';
          if (!(ACTIONS as readonly string[]).includes(action)) {
            fail(apair.key, `unknown action "${action}" for ${table}.${role} (expected ${ACTIONS.join(', ')})`);
            continue;
          }
          const scope = checkScope(apair.value, `${table}.${role}.${action}`);
          if (scope) {
            cell[action as Action] = scope;
            matrix.lines[`${table}.${role}.${action}`] = lineOf(apair.value ?? apair.key);
          }
        }
      } else {
        fail(v ?? rpair.key, `expected a scope or a mapping of actions to scopes for ${table}.${role}`);
      }
    }
  }

  function checkScope(node: YamlNode | null, where: string): Scope | undefined {
    const value = isScalar(node) ? String(node.value) : '';
    if ((SCOPES as readonly string[]).includes(value)) return value as Scope;
    fail(node, `unknown scope "${value}" for ${where} (expected ${SCOPES.join(', ')})`);
    return undefined;
  }

  if (auditNode !== null) parseAudit(auditNode);

  /** `audit:` - exemptions need a reason; every table and column must exist. */
  function parseAudit(node: YamlNode) {
    if (isScalar(node) && node.value == null) return;
    if (!isMap(node)) {
      fail(node, `expected "audit" to be a mapping with ${AUDIT_KEYS.join(', ')}`);
      return;
    }
    const known = options.auditTables;
    const knownNames = known ? Object.keys(known).sort() : [];
    const tableOf = (keyNode: YamlNode | null, section: string): string | undefined => {
      const raw = isScalar(keyNode) ? String(keyNode.value) : '';
      const name = raw.includes('.') ? raw : `app.${raw}`;
      if (!/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/.test(name)) {
        fail(keyNode, `invalid table name "${raw}" in audit.${section} (schema.table)`);
        return undefined;
      }
      if (name.startsWith('audit.')) {
        fail(keyNode, `${name} in audit.${section}: the audit schema is not audited`);
        return undefined;
      }
      if (known && !(name in known)) {
        fail(keyNode, `unknown table "${raw}" in audit.${section} (tables of the migrations: ${knownNames.join(', ')})`);
        return undefined;
      }
      return name;
    };
    for (const spair of node.items as Pair<YamlNode, YamlNode>[]) {
      const section = isScalar(spair.key) ? String(spair.key.value) : '';
      if (!(AUDIT_KEYS as readonly string[]).includes(section)) {
        fail(spair.key, `unknown key "${section}" in audit (expected ${AUDIT_KEYS.join(', ')})`);
        continue;
      }
      const v = spair.value;
      if (v == null || (isScalar(v) && v.value == null)) continue;
      if (!isMap(v)) {
        fail(v, `expected audit.${section} to map tables (schema.table) to ${section === 'exempt' ? 'a reason' : 'a list of columns'}`);
        continue;
      }
      for (const tpair of v.items as Pair<YamlNode, YamlNode>[]) {
        const table = tableOf(tpair.key, section);
        if (!table) continue;
        if (section === 'exempt') {
          const reason = isScalar(tpair.value) && tpair.value.value != null ? String(tpair.value.value).trim() : '';
          if (!reason || !isScalar(tpair.value)) {
            fail(tpair.value ?? tpair.key, `the audit exemption of ${table} needs a reason (${table}: why its changes need no audit trail)`);
          } else {
            matrix.audit.exempt[table] = reason;
          }
          continue;
        }
        const items = isSeq(tpair.value) ? (tpair.value.items as YamlNode[]) : isScalar(tpair.value) && tpair.value.value != null ? [tpair.value] : null;
        if (!items || items.length === 0) {
          fail(tpair.value ?? tpair.key, `expected a list of columns of ${table} in audit.${section}`);
          continue;
        }
        const columns: string[] = [];
        for (const item of items) {
          const column = isScalar(item) ? String(item.value) : '';
          if (!/^[a-z_][a-z0-9_]*$/.test(column)) {
            fail(item, `invalid column name "${column}" of ${table} in audit.${section}`);
          } else if (known && !known[table]!.includes(column)) {
            fail(item, `unknown column "${column}" of ${table} in audit.${section} (columns: ${known[table]!.join(', ')})`);
          } else if (columns.includes(column)) {
            fail(item, `duplicate column "${column}" of ${table} in audit.${section}`);
          } else {
            columns.push(column);
          }
        }
        const target = section === 'redact' ? matrix.audit.redact : matrix.audit.ignoreUpdatesOf;
        target[table] = columns.sort();
      }
    }
  }

  // every known table and role gets a full row of cells (absent = none)
  for (const t of knownTables ?? []) matrix.cells[t] ??= {};
  for (const t of Object.keys(matrix.cells)) {
    for (const r of roleNames) matrix.cells[t]![r] ??= { select: 'none', insert: 'none', update: 'none', delete: 'none' };
  }

  if (problems.length) throw new MatrixError(problems);
  return matrix;
}
