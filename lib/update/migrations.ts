/**
 * Template database changes as new migrations. A migration that may have been applied is never
 * edited: when the template changed one in place (a helper function rewritten, an index redefined, a
 * constraint added) the statements that differ become a new migration after the app's own, each made
 * re-runnable: functions and views as CREATE OR REPLACE, an index, policy or trigger whose definition
 * changed dropped and created again, objects the template removed dropped, other new statements as
 * written (the templates write them idempotently). A change SQL cannot express safely (a table's
 * columns changed or a table removed) is left in the new migration as a conflict for the team.
 */
import { loadModule, parseSync } from 'libpg-query';

export interface Statement {
  kind: string;
  /** the object it defines (function signature, index, policy, trigger, view, table), if any */
  identity?: string;
  /** the parse tree without locations: equal trees are the same statement, whatever the formatting */
  tree: string;
  /** the source text, leading comments included, without the semicolon */
  text: string;
  node: Record<string, unknown>;
}

let ready: Promise<void> | undefined;
export async function loadParser(): Promise<void> {
  ready ??= loadModule();
  await ready;
}

const withoutLocations = (value: unknown): string => JSON.stringify(value, (key, v) => (key === 'location' ? undefined : v));
const names = (list: unknown): string => ((list ?? []) as Array<{ String?: { sval: string } }>).map((n) => n.String?.sval ?? '?').join('.');
const relation = (rel: { schemaname?: string; relname: string }) => `${rel.schemaname ? `${rel.schemaname}.` : ''}${rel.relname}`;

function identityOf(kind: string, node: Record<string, any>): string | undefined {
  switch (kind) {
    case 'CreateFunctionStmt': {
      const args = ((node.parameters ?? []) as Array<{ FunctionParameter: { argType: { names: unknown; arrayBounds?: unknown }; mode: string } }>)
        .filter((p) => !['FUNC_PARAM_OUT', 'FUNC_PARAM_TABLE'].includes(p.FunctionParameter.mode))
        .map((p) => names(p.FunctionParameter.argType.names).replace(/^pg_catalog\./, '') + (p.FunctionParameter.argType.arrayBounds ? '[]' : ''));
      return `function ${names(node.funcname)}(${args.join(', ')})`;
    }
    case 'IndexStmt':
      return node.idxname ? `index ${node.relation.schemaname ? `${node.relation.schemaname}.` : ''}${node.idxname}` : undefined;
    case 'CreatePolicyStmt':
      return `policy ${node.policy_name} on ${relation(node.table)}`;
    case 'CreateTrigStmt':
      return `trigger ${node.trigname} on ${relation(node.relation)}`;
    case 'ViewStmt':
      return `view ${relation(node.view)}`;
    case 'CreateStmt':
      return `table ${relation(node.relation)}`;
    default:
      return undefined;
  }
}

export function parseStatements(sql: string): Statement[] {
  const bytes = Buffer.from(sql, 'utf8'); // locations are byte offsets
  const result = parseSync(sql) as { stmts?: Array<{ stmt: Record<string, Record<string, unknown>>; stmt_location?: number; stmt_len?: number }> };
  return (result.stmts ?? []).map((entry) => {
    const kind = Object.keys(entry.stmt)[0]!;
    const node = entry.stmt[kind]!;
    const start = entry.stmt_location ?? 0;
    const end = entry.stmt_len ? start + entry.stmt_len : bytes.length;
    return { kind, node, identity: identityOf(kind, node), tree: withoutLocations(entry.stmt), text: bytes.subarray(start, end).toString('utf8').replace(/^\s*\n/, '') };
  });
}

/** Statements that set the session up for the ones after them (`set role xms_owner`, `reset role`). */
const isContext = (s: Statement) => s.kind === 'VariableSetStmt';

function replaceable(s: Statement): string {
  if (s.kind === 'CreateFunctionStmt' && !s.node.replace) return s.text.replace(/\bcreate\s+function\b/i, 'create or replace function');
  if (s.kind === 'ViewStmt' && !s.node.replace) return s.text.replace(/\bcreate\s+view\b/i, 'create or replace view');
  return s.text;
}

function dropFor(s: Statement): string | undefined {
  const node = s.node as Record<string, any>;
  switch (s.kind) {
    case 'IndexStmt':
      return node.idxname ? `drop index if exists ${node.relation.schemaname ? `${node.relation.schemaname}.` : ''}${node.idxname}` : undefined;
    case 'CreatePolicyStmt':
      return `drop policy if exists ${node.policy_name} on ${relation(node.table)}`;
    case 'CreateTrigStmt':
      return `drop trigger if exists ${node.trigname} on ${relation(node.relation)}`;
    case 'ViewStmt':
      return `drop view if exists ${relation(node.view)}`;
    case 'CreateFunctionStmt':
      // if exists: the template's own new statements may already drop what it no longer creates
      return `drop function if exists ${s.identity!.slice('function '.length)}`;
    default:
      return undefined;
  }
}

export interface Delta {
  /** the new migration's SQL, or undefined when nothing of the database changed */
  sql?: string;
  /** changes left to the team (also written into the SQL between conflict markers) */
  conflicts: string[];
}

/** The statements that take a database migrated with `before` to what `after` creates. */
export function migrationDelta(file: string, before: string, after: string): Delta {
  const old = parseStatements(before);
  const now = parseStatements(after);
  const oldTrees = new Set(old.map((s) => s.tree));
  const oldByIdentity = new Map(old.filter((s) => s.identity).map((s) => [s.identity!, s]));
  const nowIdentities = new Set(now.filter((s) => s.identity).map((s) => s.identity!));
  const out: string[] = [];
  const conflicts: string[] = [];
  let pendingContext: string[] = [];
  let wrote = false;
  const emit = (text: string) => {
    out.push(...pendingContext);
    pendingContext = [];
    out.push(`${text.trimEnd()};`);
    wrote = true;
  };
  const conflict = (what: string, sql: string) => {
    conflicts.push(`${file}: ${what}`);
    emit(`<<<<<<< ${what}: write this change as SQL that keeps the data, then remove these markers\n${sql.trimEnd()}\n>>>>>>> ${file}`.replace(/;?$/, ''));
  };

  for (const s of now) {
    if (isContext(s)) {
      const text = `${s.text.trim()};`;
      // a `set role` then `reset role` around unchanged statements cancel out
      if (/^reset\b/i.test(s.text.trim()) && /^set\b/i.test(pendingContext.at(-1) ?? '')) pendingContext.pop();
      else pendingContext.push(text);
      continue;
    }
    if (oldTrees.has(s.tree)) {
      // Unchanged, but a changed statement before it may have dropped what it made (a column dropped and
      // added again takes its indexes along): an idempotent index is made again, a no-op when it stands.
      if (wrote && s.kind === 'IndexStmt' && s.node.if_not_exists) emit(s.text);
      continue;
    }
    const previous = s.identity ? oldByIdentity.get(s.identity) : undefined;
    if (s.kind === 'CreateStmt' && previous) {
      conflict(`table ${s.identity!.slice(6)} changed its columns`, s.text);
    } else if (previous && !['CreateFunctionStmt', 'ViewStmt'].includes(s.kind) && dropFor(s)) {
      emit(`${dropFor(s)}`);
      emit(replaceable(s));
    } else {
      emit(replaceable(s));
    }
  }
  // objects the template no longer creates, dropped in the reverse order of their creation (a trigger
  // before its function)
  const dropped: string[] = [];
  for (const s of [...old].reverse()) {
    if (!s.identity || nowIdentities.has(s.identity)) continue;
    if (s.kind === 'CreateStmt') conflict(`${s.identity} removed by the template (its data stays until you drop it)`, `-- drop ${s.identity}`);
    else if (dropFor(s)) dropped.push(`${dropFor(s)};`);
  }
  if (dropped.length > 0 && wrote) {
    out.push(...dropped); // before the pending closing `reset role`: still as the migration's role
  } else if (dropped.length > 0) {
    const role = now.find((s) => isContext(s) && /^set\s+role\b/i.test(s.text.trim()));
    out.push(...(role ? [`${role.text.trim()};`] : []), ...dropped, ...(role ? ['reset role;'] : []));
    pendingContext = [];
    wrote = true;
  }
  if (!wrote) return { conflicts };
  out.push(...pendingContext); // the closing `reset role`
  return { sql: out.join('\n\n') + '\n', conflicts };
}
