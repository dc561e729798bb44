/**
 * Functions, triggers and event triggers (invariants I17 and I8).
 *
 * DB017 / DB018: every function, trigger and event trigger the xms migrations (files named
 * *_xms_*.sql, the generator-written and compiled ones included) create or change is owned by them.
 * While the migrations are applied one file at a time (./database.ts), the objects are read after
 * each file as PostgreSQL reports them (deparsed headers, settings, owner, ACL, trigger definitions,
 * enabled state; bodies compared token by token, so whitespace, comments and keyword case never
 * count). The expected state of an owned object is what the last xms migration touching it left; a
 * later migration of another name that redefines, alters, disables or drops it is drift, and the live
 * database must hold exactly the expected state.
 *
 * DB019: no function of the app schemas reads a setting the server does not own (OWNED_SETTINGS):
 * any role can `set_config('app.tenant_id', ...)`, so identity read from such a setting is asserted,
 * not derived. Bodies are parsed (SQL: libpg-query; PL/pgSQL: a lexer finds each current_setting call
 * outside comments, dynamic SQL strings included, and libpg-query parses its arguments).
 */
import { basename } from 'node:path';
import type { Finding, Queryable } from './types.js';

/**
 * The settings a function may read with current_setting(): the ones a trusted party sets for each
 * transaction. PostgreSQL's own parameters (names without a dot: role, search_path, ...) are not
 * custom settings and are not listed.
 *   app.session_token     the app's request transaction (src/db/request.ts, set_config(..., true));
 *                         the identity helpers and the audit trigger hash it and look the session up
 *   request.jwt.claims    PostgREST (Supabase), from a JWT it verified; the xms helpers trust it only
 *   request.jwt.claim.*   for the `authenticated` role (older PostgREST: one setting per claim)
 * Anything else (app.tenant_id, app.user_id, request.headers, ...) can be set by any role with
 * set_config() or comes from the client.
 */
export const OWNED_SETTINGS = ['app.session_token', 'request.jwt.claims', 'request.jwt.claim.*'];

/**
 * Settings only one function may read, because it checks who set them:
 *   app.actor_id   the actor the auth subsystem names (src/db/request.ts, nameAuditActor);
 *                  audit.log_changes() honours it only when the transaction runs as xms_auth, and
 *                  DB017 keeps that function equal to its xms definition
 *   app.auth_key   the auth subsystem's key (src/db/auth-key.ts): app_private.auth_key_held() only
 *                  compares its hash with the registered ones
 */
export const FUNCTION_SETTINGS: Record<string, string[]> = {
  'audit.log_changes()': ['app.actor_id'],
  'app_private.auth_key_held()': ['app.auth_key'],
};

export function isOwnedSetting(name: string, fn?: string): boolean {
  const n = name.toLowerCase();
  if (!n.includes('.')) return true;
  if (fn && FUNCTION_SETTINGS[fn]?.includes(n)) return true;
  return OWNED_SETTINGS.some((s) => (s.endsWith('.*') ? n.startsWith(s.slice(0, -1)) && n.length > s.length - 1 : n === s));
}

/** Migrations written by create-xms-app (base, features, `xms add table`, the compiled permissions, harden). */
export function isXmsMigration(file: string): boolean {
  return /^\d+_xms_[a-z0-9_]+\.sql$/.test(basename(file));
}

export type ObjectKind = 'function' | 'trigger' | 'event trigger' | 'relation';

export interface DbObject {
  kind: ObjectKind;
  key: string;
  /** formatting-independent definition */
  def: string;
  /** readable pieces of the definition, to say what differs */
  parts: Record<string, string>;
  /** a trigger's table ("relation:" entries only record which tables exist) */
  relation?: string;
}

const NOT_SYSTEM = (alias: string) =>
  `(${alias}.nspname not in ('pg_catalog', 'information_schema') and ${alias}.nspname not like 'pg\\_%')`;

const OBJECTS_SQL = `
  select 'function' as kind, pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) as key,
         l.lanname::text as language, p.prosrc as src,
         case when p.prosqlbody is not null then pg_catalog.pg_get_functiondef(p.oid) end as sqlbody,
         pg_catalog.pg_get_function_arguments(p.oid) as args, pg_catalog.pg_get_function_result(p.oid) as result,
         p.prokind::text || ' volatility=' || p.provolatile::text || ' security_definer=' || p.prosecdef::text
           || ' strict=' || p.proisstrict::text || ' leakproof=' || p.proleakproof::text || ' parallel=' || p.proparallel::text as attrs,
         coalesce(pg_catalog.array_to_string(array(select c from pg_catalog.unnest(p.proconfig) c order by c), ', '), '') as config,
         pg_catalog.pg_get_userbyid(p.proowner)::text as owner,
         coalesce(pg_catalog.array_to_string(array(select a::text from pg_catalog.unnest(p.proacl) a order by 1), ' '), 'default') as acl
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    join pg_catalog.pg_language l on l.oid = p.prolang
   where ${NOT_SYSTEM('n')}
     and not exists (select from pg_catalog.pg_depend d where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  union all
  -- a trigger's table rides in the args column
  select 'trigger', pg_catalog.format('%I on %I.%I', t.tgname, n.nspname, c.relname),
         null, null, null, pg_catalog.format('%I.%I', n.nspname, c.relname), null,
         pg_catalog.pg_get_triggerdef(t.oid), 'enabled=' || t.tgenabled::text, null, null
    from pg_catalog.pg_trigger t
    join pg_catalog.pg_class c on c.oid = t.tgrelid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where not t.tgisinternal and ${NOT_SYSTEM('n')}
  union all
  select 'event trigger', e.evtname::text, null, null, null, null, null,
         'on ' || e.evtevent || ' execute function ' || e.evtfoid::regprocedure::text
           || coalesce(' when tag in (' || pg_catalog.array_to_string(array(select x from pg_catalog.unnest(e.evttags) x order by x), ', ') || ')', ''),
         'enabled=' || e.evtenabled::text, null, null
    from pg_catalog.pg_event_trigger e
  union all
  select 'relation', pg_catalog.format('%I.%I', n.nspname, c.relname), null, null, null, null, null, null, null, null, null
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.relkind in ('r', 'p', 'v', 'f') and ${NOT_SYSTEM('n')}`;

interface ObjectRow {
  kind: ObjectKind;
  key: string;
  language: string | null;
  src: string | null;
  sqlbody: string | null;
  args: string | null;
  result: string | null;
  attrs: string | null;
  config: string | null;
  owner: string | null;
  acl: string | null;
}

/**
 * Every function, trigger and event trigger outside the system schemas and extensions (and, as
 * "relation:" entries, the tables and views there: a trigger is only expected while its table exists).
 */
export async function readObjects(db: Queryable): Promise<Map<string, DbObject>> {
  const out = new Map<string, DbObject>();
  for (const r of (await db.query<ObjectRow>(OBJECTS_SQL)).rows) {
    let parts: Record<string, string>;
    if (r.kind === 'function') {
      parts = {
        signature: `(${r.args}) returns ${r.result}`,
        language: r.language ?? '',
        attributes: r.attrs ?? '',
        settings: r.config ?? '',
        owner: r.owner ?? '',
        privileges: r.acl ?? '',
        body: normalizeBody(r.sqlbody ?? r.src ?? ''),
      };
    } else if (r.kind === 'relation') {
      parts = {};
    } else {
      parts = { definition: r.attrs ?? '', state: r.config ?? '' };
    }
    const relation = r.kind === 'trigger' ? (r.args ?? undefined) : undefined;
    out.set(`${r.kind}:${r.key}`, { kind: r.kind, key: r.key, parts, def: JSON.stringify(parts), ...(relation ? { relation } : {}) });
  }
  return out;
}

/** xms-owned objects as the migrations leave them, and the other migrations that changed them. */
export interface OwnedObjects {
  /** object id -> its definition after the last xms migration that touched it, and that migration */
  expected: Map<string, { object: DbObject; file: string }>;
  /** object id -> the last non-xms migration that changed or dropped it after that */
  changedBy: Map<string, string>;
}

export function newOwnedObjects(): OwnedObjects {
  return { expected: new Map(), changedBy: new Map() };
}

/** Records what migration `file` did to the objects (previous: the objects before it). */
export function recordMigration(owned: OwnedObjects, file: string, previous: Map<string, DbObject>, now: Map<string, DbObject>): void {
  const xms = isXmsMigration(file);
  for (const id of new Set([...previous.keys(), ...now.keys()])) {
    const before = previous.get(id);
    const after = now.get(id);
    if (before?.def === after?.def || (before ?? after)!.kind === 'relation') continue;
    if (xms) {
      if (after) owned.expected.set(id, { object: after, file });
      else owned.expected.delete(id);
      owned.changedBy.delete(id);
    } else if (owned.expected.has(id)) {
      owned.changedBy.set(id, file);
    }
  }
}

/**
 * DB017 (functions) and DB018 (triggers, event triggers): the live owned objects equal the expected ones.
 * missingEventTriggerSeverity: a migration run by a non-superuser (Supabase's `postgres`) skips the
 * event trigger on purpose, so a missing one is reported as a warning there.
 */
export function compareOwnedObjects(
  live: Map<string, DbObject>,
  owned: OwnedObjects,
  options: { missingEventTriggerSeverity?: Finding['severity'] } = {},
): Finding[] {
  const out: Finding[] = [];
  for (const [id, { object: exp, file }] of owned.expected) {
    const l = live.get(id);
    if (l?.def === exp.def) continue;
    // a trigger goes with its table: dropping a table is no trigger drift (DB005 audits the tables that exist)
    if (!l && exp.relation && !live.has(`relation:${exp.relation}`)) continue;
    const by = owned.changedBy.get(id);
    const fix = by
      ? `restore the xms definition: remove the ${l ? 'redefinition' : 'drop'} of ${exp.kind} ${exp.key} in ${by} (the definition of ${file} is the reviewed one)`
      : `restore the xms definition of ${file} (re-apply that migration's statement for ${exp.key}; the database was changed outside the migrations)`;
    const message = l
      ? `differs from the xms migrations (${file}): ${differences(exp, l)}${by ? `; changed by ${by}` : ''}`
      : `missing: the xms migrations (${file}) create it${by ? `; dropped by ${by}` : ''}`;
    const severity = !l && exp.kind === 'event trigger' && options.missingEventTriggerSeverity ? options.missingEventTriggerSeverity : 'error';
    out.push({
      id: exp.kind === 'function' ? 'DB017-function-drift' : 'DB018-trigger-drift',
      severity,
      object: `${exp.kind} ${exp.key}`,
      message: severity === 'warning' ? `${message} (migrations run by a non-superuser skip it: xms check is the safety net then)` : message,
      fix,
    });
  }
  return out;
}

function differences(expected: DbObject, live: DbObject): string {
  const diffs: string[] = [];
  for (const k of Object.keys(expected.parts)) {
    const e = expected.parts[k]!;
    const l = live.parts[k] ?? '';
    if (e === l) continue;
    diffs.push(k === 'body' ? 'the body differs' : `${k} "${short(l)}" instead of "${short(e)}"`);
  }
  return diffs.join(', ');
}

const short = (s: string) => (s.length > 160 ? `${s.slice(0, 157)}...` : s);

// ---------------------------------------------------------------------------------------------
// Lexing and parsing function bodies
// ---------------------------------------------------------------------------------------------

interface Token {
  kind: 'word' | 'string' | 'ident' | 'other';
  /** words lowercased; strings and quoted identifiers as written */
  text: string;
  /** string contents, unescaped */
  value?: string;
  start: number;
  end: number;
}

/** A PostgreSQL lexer good enough for bodies: comments, '', E'', $tag$ strings, "identifiers". */
export function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && src[i + 1] === '-') {
      const e = src.indexOf('\n', i);
      i = e < 0 ? n : e + 1;
    } else if (c === '/' && src[i + 1] === '*') {
      // block comments nest in PostgreSQL
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (src[i] === '/' && src[i + 1] === '*') (depth++, (i += 2));
        else if (src[i] === '*' && src[i + 1] === '/') (depth--, (i += 2));
        else i++;
      }
    } else if (c === "'" || ((c === 'e' || c === 'E') && src[i + 1] === "'")) {
      const start = i;
      const escapes = c !== "'";
      i += escapes ? 2 : 1;
      let value = '';
      for (; i < n; i++) {
        const ch = src[i]!;
        if (escapes && ch === '\\') {
          value += src[++i] ?? '';
        } else if (ch === "'") {
          if (src[i + 1] === "'") (value += "'", i++);
          else break;
        } else value += ch;
      }
      i++;
      out.push({ kind: 'string', text: src.slice(start, i), value, start, end: i });
    } else if (c === '"') {
      const start = i;
      for (i++; i < n; i++) {
        if (src[i] === '"') {
          if (src[i + 1] === '"') i++;
          else break;
        }
      }
      i++;
      out.push({ kind: 'ident', text: src.slice(start, i), start, end: i });
    } else if (c === '$' && /^\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.test(src.slice(i, i + 64))) {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(src.slice(i, i + 64))![0];
      const start = i;
      const close = src.indexOf(tag, i + tag.length);
      const end = close < 0 ? n : close + tag.length;
      out.push({ kind: 'string', text: src.slice(start, end), value: src.slice(i + tag.length, close < 0 ? n : close), start, end });
      i = end;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      const m = /^[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*/.exec(src.slice(i))!;
      out.push({ kind: 'word', text: m[0].toLowerCase(), start: i, end: i + m[0].length });
      i += m[0].length;
    } else {
      out.push({ kind: 'other', text: c, start: i, end: i + 1 });
      i++;
    }
  }
  return out;
}

/** A body as its tokens: whitespace, comments and the case of words never make two bodies differ. */
export function normalizeBody(src: string): string {
  return lex(src).map((t) => t.text).join(' ');
}

export interface SettingRead {
  /** the setting name, or null when it is not a constant */
  name: string | null;
  /** how it is read, for the message */
  expression: string;
}

let parserReady: Promise<void> | undefined;
let parseSync: typeof import('libpg-query').parseSync;
/**
 * libpg-query is WebAssembly: load it once before the synchronous parser is used. Imported here, not
 * at the top: a check answered from the findings cache never parses SQL.
 */
export function loadParser(): Promise<void> {
  parserReady ??= import('libpg-query').then(async (pg) => {
    await pg.loadModule();
    parseSync = pg.parseSync;
  });
  return parserReady;
}

type Node = Record<string, unknown>;

function isCurrentSetting(call: Node): boolean {
  const names = (call.funcname as Node[] | undefined) ?? [];
  const last = names[names.length - 1] as { String?: { sval?: string } } | undefined;
  const schema = names.length > 1 ? (names[0] as { String?: { sval?: string } }).String?.sval : 'pg_catalog';
  return last?.String?.sval === 'current_setting' && schema === 'pg_catalog';
}

/** The constant text of an argument node ('x', 'x'::text), else null. */
function constantText(node: Node | undefined): string | null {
  if (!node) return null;
  if (node.NamedArgExpr) return constantText((node.NamedArgExpr as Node).arg as Node);
  if (node.TypeCast) return constantText((node.TypeCast as Node).arg as Node);
  const c = node.A_Const as { sval?: { sval?: string } } | undefined;
  return typeof c?.sval?.sval === 'string' ? c.sval.sval : null;
}

/** Every current_setting() call in a parse tree (and pg_settings, which reads them too). */
function readsInTree(tree: unknown, src: string, out: SettingRead[]): void {
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const node = v as Node;
    if (node.FuncCall && isCurrentSetting(node.FuncCall as Node)) {
      const call = node.FuncCall as Node;
      const arg = (call.args as Node[] | undefined)?.[0];
      const name = constantText(arg);
      out.push({ name, expression: name === null ? callText(src, call.location as number | undefined) : `current_setting('${name}')` });
    }
    if (node.RangeVar && (node.RangeVar as Node).relname === 'pg_settings') {
      out.push({ name: null, expression: 'pg_settings' });
    }
    for (const child of Object.values(node)) walk(child);
  };
  walk(tree);
}

/** The text of the call starting at offset loc of src, up to its closing parenthesis. */
function callText(src: string, loc: number | undefined): string {
  if (loc === undefined) return 'current_setting(...)';
  let depth = 0;
  for (const t of lex(src.slice(loc))) {
    if (t.text === '(') depth++;
    else if (t.text === ')' && --depth === 0) return src.slice(loc, loc + t.end).replace(/\s+/g, ' ');
  }
  return 'current_setting(...)';
}

/**
 * The settings a function body reads. SQL bodies are parsed whole; other bodies (PL/pgSQL) are
 * lexed, each current_setting(...) call is parsed on its own, and string literals (dynamic SQL for
 * EXECUTE or format()) are searched the same way.
 */
export function settingReads(body: string, language: string, depth = 0): SettingRead[] {
  const out: SettingRead[] = [];
  if (language === 'sql') {
    try {
      readsInTree(parseSync(body), body, out);
      return out;
    } catch {
      // a body the parser refuses (it applied, so PostgreSQL accepted it): fall back to the lexer
    }
  }
  const tokens = lex(body);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'string' && depth < 4 && /current_setting|pg_settings/i.test(t.value ?? '')) {
      out.push(...settingReads(t.value!, 'plpgsql', depth + 1));
    } else if (t.kind === 'word' && t.text === 'pg_settings') {
      out.push({ name: null, expression: 'pg_settings' });
    } else if (t.kind === 'word' && t.text === 'current_setting' && tokens[i + 1]?.text === '(') {
      const qualifier = tokens[i - 1]?.text === '.' ? tokens[i - 2]?.text : undefined;
      if (qualifier !== undefined && qualifier !== 'pg_catalog' && qualifier !== '"pg_catalog"') continue;
      let depthParen = 0;
      let j = i + 1;
      for (; j < tokens.length; j++) {
        if (tokens[j]!.text === '(') depthParen++;
        else if (tokens[j]!.text === ')' && --depthParen === 0) break;
      }
      const call = body.slice(t.start, tokens[Math.min(j, tokens.length - 1)]!.end);
      const before = out.length;
      try {
        readsInTree(parseSync(`select pg_catalog.${call}`), `select pg_catalog.${call}`, out);
      } catch {
        // not parseable on its own (a PL/pgSQL construct inside): a read of an unknown setting
      }
      if (out.length === before) out.push({ name: null, expression: call.replace(/\s+/g, ' ') });
    }
  }
  return out;
}

interface FunctionRow {
  object: string;
  language: string;
  src: string;
  sqlbody: string | null;
}

/** DB019: functions of the app schemas reading a setting the server does not own. */
export async function checkSettingReads(db: Queryable, options: { schemaCondition: string; exposedSchemas: string[] }): Promise<Finding[]> {
  await loadParser();
  const list = options.exposedSchemas.map((s) => `'${s.replace(/'/g, "''")}'`).join(', ');
  const rows = (
    await db.query<FunctionRow>(
      `select p.oid::regprocedure::text as object, l.lanname::text as language, p.prosrc as src,
              case when p.prosqlbody is not null then pg_catalog.pg_get_functiondef(p.oid) end as sqlbody
         from pg_catalog.pg_proc p
         join pg_catalog.pg_namespace n on n.oid = p.pronamespace
         join pg_catalog.pg_language l on l.oid = p.prolang
        where (${options.schemaCondition}${list ? ` or n.nspname in (${list})` : ''})
          and l.lanname in ('sql', 'plpgsql')
          and not exists (select from pg_catalog.pg_depend d where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
        order by 1`,
    )
  ).rows;
  const out: Finding[] = [];
  for (const r of rows) {
    const reads = settingReads(r.sqlbody ?? r.src, r.language);
    const bad = reads.filter((x) => x.name === null || !isOwnedSetting(x.name, r.object));
    for (const read of bad) {
      out.push({
        id: 'DB019-function-reads-request-setting',
        severity: 'error',
        object: r.object,
        message:
          read.name === null
            ? `reads a setting whose name is not a constant (${read.expression}): any role can set_config() a custom setting, so nothing it returns can be trusted`
            : `reads ${read.expression}, a setting the server does not set: any role can set_config('${read.name}', ...) and assert an identity`,
        fix: `derive identity from the session: call app.current_user_id() / app.current_tenant_id() / app.current_app_role() (settings the server owns: ${OWNED_SETTINGS.join(', ')})`,
      });
    }
  }
  return dedupe(out);
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.object}|${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
