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
 * Absent means none. Errors name the file and line:
 *   permissions.yml:12: unknown scope "tenantt" for records.member.select (expected none, own, tenant, all)
 */
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Node as YamlNode, type Pair } from 'yaml';

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
}

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

  const matrix: Matrix = { file, roles: [], cells: {}, lines: {} };
  const root = doc.contents;
  if (!isMap(root)) throw new MatrixError([`${file}:1: expected a mapping with "roles" and "tables"`]);

  let rolesNode: YamlNode | null = null;
  let tablesNode: YamlNode | null = null;
  for (const pair of root.items as Pair<YamlNode, YamlNode>[]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key === 'roles') rolesNode = pair.value;
    else if (key === 'tables') tablesNode = pair.value;
    else if (key === 'version') {
      if (!isScalar(pair.value) || pair.value.value !== 1) fail(pair.value ?? pair.key, 'unsupported version (expected 1)');
    } else fail(pair.key, `unknown key "${key}" (expected version, roles, tables)`);
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

  // every known table and role gets a full row of cells (absent = none)
  for (const t of knownTables ?? []) matrix.cells[t] ??= {};
  for (const t of Object.keys(matrix.cells)) {
    for (const r of roleNames) matrix.cells[t]![r] ??= { select: 'none', insert: 'none', update: 'none', delete: 'none' };
  }

  if (problems.length) throw new MatrixError(problems);
  return matrix;
}
