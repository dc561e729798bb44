/**
 * SRV020 of `xms check` (invariants I4, I17): a write body is refused, by name, when it carries a
 * field its route does not declare (tenant_id, owner_id, id, a misspelt column), never silently
 * dropped or passed on:
 *   - every POST / PUT / PATCH route module route whose options declare `schema.body` declares a strict
 *     object: `Strict({...})` (src/server/schemas.ts), `Type.Object({...}, { additionalProperties: false })`
 *     or a JSON schema literal with `additionalProperties: false`, directly or through a constant of
 *     the module or one it imports;
 *   - `Strict` in src/server/schemas.ts sets additionalProperties: false after the caller's options;
 *   - the server keeps Ajv from removing such fields (src/server/app.ts: removeAdditional: false):
 *     Fastify's default drops them, and the request goes on without the error.
 * Input: the route modules of the inventory (./routes.ts) and the two server modules.
 */
import { join } from 'node:path';
import type * as TS from 'typescript';
import { finding, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';

const ID = 'SRV020-write-body-not-strict';
const WRITE_METHODS = new Set(['post', 'put', 'patch']);
const FIX_BODY = 'declare the body as Strict({...}) from src/server/schemas.ts (or Type.Object({...}, { additionalProperties: false }))';

type Strictness = 'strict' | 'open' | 'unknown';

export function checkBodySchemas(syntax: Syntax, routeModules: string[]): Finding[] {
  const ts = syntax.ts;
  const out: Finding[] = [];

  const appFile = join(syntax.appDir, 'src', 'server', 'app.ts');
  const app = syntax.file(appFile);
  if (app) {
    const keeps = syntax.all(app, ts.isPropertyAssignment).some((p) => syntax.propName(p.name) === 'removeAdditional' && p.initializer.kind === ts.SyntaxKind.FalseKeyword);
    if (!keeps) {
      out.push(finding(ID, syntax.rel(appFile), 'the server does not set Ajv removeAdditional: false: a field a body schema does not allow is dropped without a 400',
        "keep `ajv: { customOptions: { removeAdditional: false } }` in the Fastify options of src/server/app.ts"));
    }
  }

  // the helper and each route module are judged from the files they read: kept between checks under those
  out.push(...syntax.persisted('body-schemas:Strict', () => strictHelper(syntax)));
  for (const file of new Set(routeModules)) out.push(...syntax.persisted(`body-schemas:${syntax.rel(file)}`, () => moduleBodies(syntax, file)));
  return out;
}

function strictHelper(syntax: Syntax): Finding[] {
  const schemas = syntax.file(join(syntax.appDir, 'src', 'server', 'schemas.ts'));
  const strictFn = schemas ? syntax.func(schemas, 'Strict') : undefined;
  if (strictFn && !strictHelperHolds(syntax, strictFn)) {
    return [finding(ID, syntax.at(strictFn), 'Strict() in src/server/schemas.ts does not end its options with additionalProperties: false',
      'return Type.Object(properties, { ...options, additionalProperties: false })')];
  }
  return [];
}

/** The write routes of one route module whose body schema is not a strict object. */
function moduleBodies(syntax: Syntax, file: string): Finding[] {
  const ts = syntax.ts;
  const out: Finding[] = [];
  const sf = syntax.file(file);
  if (sf) {
    for (const call of syntax.all(sf, ts.isCallExpression)) {
      if (!ts.isPropertyAccessExpression(call.expression) || !WRITE_METHODS.has(call.expression.name.text)) continue;
      const [url, options] = call.arguments;
      if (!url || !options || call.arguments.length < 3) continue;
      const body = schemaProp(syntax, resolve(syntax, options, sf, 0), 'body');
      if (!body) continue;
      const verdict = strictness(syntax, body.node, body.sf, 0);
      if (verdict === 'strict') continue;
      const route = `${call.expression.name.text.toUpperCase()} ${url.getText()}`;
      out.push(
        finding(ID, syntax.at(call), verdict === 'open'
          ? `${route}: its body schema accepts fields it does not declare (no additionalProperties: false)`
          : `${route}: its body schema cannot be read as a strict object (Strict, Type.Object with additionalProperties: false, or a JSON schema saying so)`,
        FIX_BODY),
      );
    }
  }
  return out;
}

/** Strict(properties, options) builds Type.Object(..., { ...options, additionalProperties: false }): false last. */
function strictHelperHolds(syntax: Syntax, fn: TS.FunctionLikeDeclaration): boolean {
  const ts = syntax.ts;
  if (!fn.body) return false;
  return syntax.all(fn.body, ts.isObjectLiteralExpression).some((o) => {
    const last = o.properties[o.properties.length - 1];
    return !!last && ts.isPropertyAssignment(last) && syntax.propName(last.name) === 'additionalProperties' && last.initializer.kind === ts.SyntaxKind.FalseKeyword;
  });
}

interface Located {
  node: TS.Expression;
  sf: TS.SourceFile;
}

/** An identifier followed to its constant's initializer (this module, or a relative import), else the node. */
function resolve(syntax: Syntax, node: TS.Expression, sf: TS.SourceFile, depth: number): Located {
  const ts = syntax.ts;
  const bare = syntax.bare(node);
  if (!ts.isIdentifier(bare) || depth > 8) return { node: bare, sf };
  const local = syntax.constant(sf, bare.text);
  if (local?.initializer) return resolve(syntax, local.initializer, sf, depth + 1);
  const from = syntax.imports(sf).get(bare.text);
  const other = from ? syntax.file(from) : undefined;
  const declared = other ? syntax.constant(other, bare.text) : undefined;
  if (other && declared?.initializer) return resolve(syntax, declared.initializer, other, depth + 1);
  return { node: bare, sf };
}

/** `options.schema.<name>`, following constants (spreads of constants included). */
function schemaProp(syntax: Syntax, options: Located, name: string): Located | undefined {
  const ts = syntax.ts;
  if (!ts.isObjectLiteralExpression(options.node)) return undefined;
  const schema = objectProp(syntax, options.node, 'schema', options.sf);
  if (!schema) return undefined;
  const resolved = resolve(syntax, schema.node, schema.sf, 0);
  if (!ts.isObjectLiteralExpression(resolved.node)) return undefined;
  return objectProp(syntax, resolved.node, name, resolved.sf);
}

/** A property of an object literal, own or from a spread constant. */
function objectProp(syntax: Syntax, obj: TS.ObjectLiteralExpression, name: string, sf: TS.SourceFile): Located | undefined {
  const ts = syntax.ts;
  for (const p of [...obj.properties].reverse()) {
    if (ts.isPropertyAssignment(p) && syntax.propName(p.name) === name) return { node: p.initializer, sf };
    if (ts.isShorthandPropertyAssignment(p) && p.name.text === name) return { node: p.name, sf };
    if (ts.isSpreadAssignment(p)) {
      const spread = resolve(syntax, p.expression, sf, 0);
      if (ts.isObjectLiteralExpression(spread.node)) {
        const found = objectProp(syntax, spread.node, name, spread.sf);
        if (found) return found;
      }
    }
  }
  return undefined;
}

function strictness(syntax: Syntax, node: TS.Expression, sf: TS.SourceFile, depth: number): Strictness {
  const ts = syntax.ts;
  const { node: n, sf: at } = resolve(syntax, node, sf, depth);
  if (ts.isObjectLiteralExpression(n)) return additionalFalse(syntax, n, at);
  if (ts.isCallExpression(n)) {
    const callee = n.expression.getText();
    if (/^(\w+\.)?Strict$/.test(callee)) return 'strict';
    if (/^Type\.Object$/.test(callee)) {
      const opts = n.arguments[1] ? resolve(syntax, n.arguments[1], at, depth + 1) : undefined;
      return opts && ts.isObjectLiteralExpression(opts.node) ? additionalFalse(syntax, opts.node, opts.sf) : 'open';
    }
  }
  return 'unknown';
}

function additionalFalse(syntax: Syntax, obj: TS.ObjectLiteralExpression, sf: TS.SourceFile): Strictness {
  const value = objectProp(syntax, obj, 'additionalProperties', sf);
  return value && value.node.kind === syntax.ts.SyntaxKind.FalseKeyword ? 'strict' : 'open';
}
