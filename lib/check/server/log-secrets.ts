/**
 * SRV021 of `xms check` (invariant I9): nothing secret reaches the server's logs. What a line may hold
 * is decided by src/server/logging.ts, wired by src/server/app.ts; this check reads both (and every
 * source under src/ that makes or writes through a logger) from the syntax tree:
 *   - wiring: the Fastify options of src/server/app.ts take their logger from loggerOptions(...) of
 *     src/server/logging.ts (no loggerInstance), and a childLoggerFactory, if any, is its requestLogger;
 *   - redaction: every object loggerOptions returns has `redact` with paths (REDACTED_PATHS, a constant
 *     of the module or a literal) holding every path of REQUIRED_REDACTIONS, censored by a string (or
 *     removed), and only options that cannot add to or move what a line holds; the paths constant is
 *     a const that no source changes;
 *   - serializers: `req` returns only the method, the path without its query string (reset and
 *     invitation links carry tokens there) and the client address; `res` only the status code; no
 *     other serializer but pino's standard `err`;
 *   - the access line: RequestLogger.accessLine writes without the redaction, for speed, and is safe
 *     only while its line holds nothing but the serializers' output. So accessLine is called only from
 *     AccessLog.requestCompleted, with exactly { req: request, res: reply, responseTime:
 *     reply.elapsedTime } and a literal message; it writes those fields and the request id only; the
 *     child made with its own `redact` (and the cache holding it) is used nowhere else;
 *   - other loggers: no other child logger sets its own redaction or serializers (a child otherwise
 *     inherits loggerOptions'), no pino() logger is made without the same redaction, and no other
 *     logger options with a `redact` of their own appear in the sources.
 * Anything this check cannot read statically is a finding saying so.
 */
import { dirname, resolve } from 'node:path';
import type * as TS from 'typescript';
import { finding, squeezed, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';

const ID = 'SRV021-log-secrets';
const LOGGING = 'src/server/logging.ts';
const APP = 'src/server/app.ts';

/** The redaction paths of the template (src/server/logging.ts, REDACTED_PATHS), each with what it hides. */
export const REQUIRED_REDACTIONS: ReadonlyArray<readonly [path: string, hides: string]> = [
  ['req.headers.cookie', 'the session cookie'],
  ['req.headers.authorization', 'Authorization (bearer tokens)'],
  ['res.headers["set-cookie"]', 'the session cookie set at log-in'],
  ['headers.cookie', 'the session cookie'],
  ['headers.authorization', 'Authorization (bearer tokens)'],
  ['headers["set-cookie"]', 'the session cookie set at log-in'],
  ['password', 'passwords'],
  ['token', 'tokens'],
  ['*.password', 'passwords'],
  ['*.newPassword', 'new passwords'],
  ['*.token', 'tokens'],
  ['*.sessionToken', 'session tokens'],
  ['err.detail', 'row values PostgreSQL quotes in an error'],
  ['err.params', "a failed statement's parameters"],
];

const FIX_WIRING = 'Fastify({ logger: loggerOptions(config, options.logStream), childLoggerFactory: requestLogger, ... }) in src/server/app.ts, both from src/server/logging.ts';
const FIX_REDACT = "return `redact: { paths: REDACTED_PATHS, censor: '[redacted]' }` from loggerOptions (src/server/logging.ts), REDACTED_PATHS a const holding the template's paths";
const FIX_SERIALIZERS = "serializers: { req: (request) => ({ method: request.method, path: request.url.split('?')[0], remoteAddress: request.ip }), res: (reply) => ({ statusCode: reply.statusCode }) }";
const FIX_ACCESS = "call accessLine only from AccessLog.requestCompleted with { req: request, res: reply, responseTime: reply.elapsedTime } and a literal message; log anything else through request.log (redacted)";
const FIX_UNREDACTED = "only RequestLogger.accessLine may write through a child made with its own redact: every other logger is the server's (loggerOptions' redaction) or its child without redact options";

/** Logger options that can neither add a field to a line nor move one away from the redaction paths. */
const ROOT_OPTIONS = new Set(['level', 'redact', 'serializers', 'stream', 'name', 'timestamp', 'messageKey', 'msgPrefix', 'enabled', 'depthLimit', 'edgeLimit']);
const CHILD_OPTIONS = new Set(['level', 'msgPrefix']);
const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
/** What the req serializer may log besides the stripped path: method, request id, client address, route pattern. */
const REQUEST_FIELDS = new Set(['method', 'id', 'ip', 'socket.remoteAddress', 'raw.socket.remoteAddress', 'routeOptions.url']);
const REQUEST_URLS = new Set(['url', 'raw.url', 'originalUrl']);
/** Uses of the paths constant that read it only. */
const READ_ONLY_MEMBERS = new Set(['length', 'includes', 'indexOf', 'lastIndexOf', 'join', 'map', 'filter', 'some', 'every', 'find', 'findIndex', 'forEach', 'slice', 'concat', 'at', 'flatMap', 'reduce', 'entries', 'values', 'keys', 'toString']);

type Fn = TS.ArrowFunction | TS.FunctionExpression | TS.FunctionDeclaration | TS.MethodDeclaration;

export function checkLogSecrets(syntax: Syntax): Finding[] {
  const logging = syntax.source(LOGGING);
  if (!logging) return [finding(ID, LOGGING, 'the logging module is missing: what the server logs cannot be verified', 'restore src/server/logging.ts from the template')];
  return new LogSecrets(syntax, logging).run();
}

class LogSecrets {
  private readonly ts: typeof TS;
  private readonly out: Finding[] = [];
  /** Logger option literals judged by one part of the check (the others skip them). */
  private readonly judged = new Set<TS.Node>();
  /** The constants the redaction paths were read from (each checked for changes once). */
  private readonly pathConstants = new Map<TS.VariableDeclaration, TS.SourceFile>();

  constructor(
    private readonly syntax: Syntax,
    private readonly logging: TS.SourceFile,
  ) {
    this.ts = syntax.ts;
  }

  run(): Finding[] {
    this.wiring();
    this.loggerOptions();
    const accessLines = this.syntax.all(this.logging, this.ts.isMethodDeclaration).filter((m) => this.nameOf(m.name) === 'accessLine');
    this.unredactedWrites(accessLines);
    this.accessLineCalls();
    this.childLoggers();
    this.pinoLoggers();
    this.otherRedactions();
    for (const [decl, sf] of this.pathConstants) this.pathConstantUnchanged(decl, sf);
    return this.out;
  }

  private add(object: string, message: string, fix: string): void {
    this.out.push(finding(ID, object, message, fix));
  }

  private at(node: TS.Node): string {
    return this.syntax.at(node);
  }

  /** The parsed sources under src/ whose text mentions `word`. */
  private *sourcesWith(word: string): Generator<TS.SourceFile> {
    for (const file of this.syntax.sourcesMentioning(word)) {
      const sf = this.syntax.source(file);
      if (sf) yield sf;
    }
  }

  // ---- wiring: src/server/app.ts builds Fastify with loggerOptions(...)

  private wiring(): void {
    const { ts, syntax } = this;
    const app = syntax.source(APP);
    if (!app) return this.add(APP, "src/server/app.ts is missing: the server's logger cannot be verified", FIX_WIRING);
    const fastify = this.importedAs(app, 'fastify', ['default', 'fastify']).locals;
    const calls = syntax.all(app, ts.isCallExpression).filter((c) => {
      const callee = syntax.bare(c.expression);
      return ts.isIdentifier(callee) && fastify.has(callee.text);
    });
    if (calls.length === 0) return this.add(APP, "no Fastify(...) call in src/server/app.ts: the server's logger cannot be verified", FIX_WIRING);
    for (const call of calls) {
      const options = call.arguments[0] && syntax.bare(call.arguments[0]);
      if (!options || !ts.isObjectLiteralExpression(options)) {
        this.add(this.at(call), "the Fastify options are not a literal object: the server's logger cannot be verified", FIX_WIRING);
        continue;
      }
      for (const p of options.properties) {
        if (!ts.isSpreadAssignment(p)) continue;
        const keys = this.spreadKeys(p.expression);
        if (!keys) this.add(this.at(p), `the Fastify options spread ${p.expression.getText()}: it could replace the logger, which cannot be verified`, FIX_WIRING);
        else for (const key of ['logger', 'loggerInstance', 'childLoggerFactory']) if (keys.has(key)) this.add(this.at(p), `the Fastify options spread sets ${key}: the logger cannot be verified`, FIX_WIRING);
      }
      const logger = syntax.prop(options, 'logger');
      if (!logger) this.add(this.at(options), 'the Fastify options have no logger: loggerOptions(...) of src/server/logging.ts is not used', FIX_WIRING);
      else {
        const value = syntax.bare(logger);
        const from = ts.isCallExpression(value) ? this.importOf(app, syntax.bare(value.expression)) : undefined;
        if (from !== `${LOGGING}#loggerOptions`) {
          this.add(this.at(logger), `the server's logger is ${logger.getText()}, not loggerOptions(...) of src/server/logging.ts: its redaction and serializers cannot be verified`, FIX_WIRING);
        }
      }
      const instance = syntax.prop(options, 'loggerInstance');
      if (instance) this.add(this.at(instance), 'the Fastify options pass a loggerInstance: a logger made without loggerOptions, whose redaction cannot be verified', FIX_WIRING);
      const factory = syntax.prop(options, 'childLoggerFactory');
      if (factory && this.importOf(app, syntax.bare(factory)) !== `${LOGGING}#requestLogger`) {
        this.add(this.at(factory), `childLoggerFactory is ${factory.getText()}, not requestLogger of src/server/logging.ts: the request loggers cannot be verified`, FIX_WIRING);
      }
    }
  }

  /** The keys a spread object literal (or a condition choosing between literals) sets; undefined when unknown. */
  private spreadKeys(node: TS.Expression): Set<string> | undefined {
    const { ts } = this;
    const n = this.syntax.bare(node);
    if (ts.isConditionalExpression(n)) {
      const a = this.spreadKeys(n.whenTrue);
      const b = this.spreadKeys(n.whenFalse);
      return a && b ? new Set([...a, ...b]) : undefined;
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken) return this.spreadKeys(n.right);
    if (!ts.isObjectLiteralExpression(n)) return undefined;
    const keys = new Set<string>();
    for (const p of n.properties) {
      if (ts.isSpreadAssignment(p)) {
        const inner = this.spreadKeys(p.expression);
        if (!inner) return undefined;
        for (const k of inner) keys.add(k);
        continue;
      }
      const name = p.name && this.nameOf(p.name);
      if (name === undefined) return undefined;
      keys.add(name);
    }
    return keys;
  }

  /** Local names bound to a package's exports (default or named) and namespaces. */
  private importedAs(sf: TS.SourceFile, module: string, exports: string[]): { locals: Set<string>; namespaces: Set<string> } {
    const { ts } = this;
    const locals = new Set<string>();
    const namespaces = new Set<string>();
    for (const st of sf.statements) {
      if (!ts.isImportDeclaration(st) || this.syntax.str(st.moduleSpecifier) !== module || !st.importClause || st.importClause.isTypeOnly) continue;
      if (st.importClause.name && exports.includes('default')) locals.add(st.importClause.name.text);
      const bindings = st.importClause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) namespaces.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings)) {
        for (const el of bindings.elements) if (!el.isTypeOnly && exports.includes((el.propertyName ?? el.name).text)) locals.add(el.name.text);
      }
    }
    return { locals, namespaces };
  }

  /** `file#export` of an identifier imported from a relative module (file relative to the app). */
  private importOf(sf: TS.SourceFile, node: TS.Expression): string | undefined {
    const { ts, syntax } = this;
    if (!ts.isIdentifier(node)) return undefined;
    for (const st of sf.statements) {
      if (!ts.isImportDeclaration(st) || !st.importClause?.namedBindings || !ts.isNamedImports(st.importClause.namedBindings)) continue;
      const spec = syntax.str(st.moduleSpecifier);
      if (!spec?.startsWith('.')) continue;
      for (const el of st.importClause.namedBindings.elements) {
        if (el.name.text !== node.text) continue;
        let file = resolve(dirname(sf.fileName), spec).replace(/\.js$/, '.ts');
        if (!/\.m?ts$/.test(file)) file += '.ts';
        return `${syntax.rel(file).split('\\').join('/')}#${(el.propertyName ?? el.name).text}`;
      }
    }
    return undefined;
  }

  // ---- loggerOptions: redaction and serializers

  private loggerOptions(): void {
    const { ts, syntax } = this;
    const fn = syntax.func(this.logging, 'loggerOptions');
    if (!fn?.body) return this.add(LOGGING, 'loggerOptions is not defined in src/server/logging.ts: the redaction cannot be verified', FIX_REDACT);
    const returned = ts.isBlock(fn.body) ? this.ownReturns(fn.body) : [fn.body];
    for (const value of returned) this.returnedOptions(value);
  }

  /** The values a function body returns (not those of functions nested in it). */
  private ownReturns(body: TS.Block): Array<TS.Expression | undefined> {
    const { ts } = this;
    const out: Array<TS.Expression | undefined> = [];
    const visit = (n: TS.Node) => {
      if (ts.isReturnStatement(n)) out.push(n.expression);
      if (!ts.isFunctionLike(n)) n.forEachChild(visit);
    };
    body.forEachChild(visit);
    return out;
  }

  private returnedOptions(value: TS.Expression | undefined): void {
    const { ts, syntax } = this;
    if (!value) return; // undefined: no logger
    const n = syntax.bare(value);
    if (n.kind === ts.SyntaxKind.FalseKeyword || n.kind === ts.SyntaxKind.NullKeyword || (ts.isIdentifier(n) && n.text === 'undefined')) return; // logging off
    if (ts.isConditionalExpression(n)) {
      this.returnedOptions(n.whenTrue);
      this.returnedOptions(n.whenFalse);
      return;
    }
    const options = this.literal(n);
    if (!options) return this.add(this.at(value), `loggerOptions returns ${value.getText()}: not a literal object, its redaction and serializers cannot be verified`, FIX_REDACT);
    this.judged.add(options);
    for (const p of options.properties) {
      const name = ts.isSpreadAssignment(p) ? undefined : p.name && this.nameOf(p.name);
      if (name === undefined) this.add(this.at(p), `the logger options hold ${p.getText()}, which cannot be verified: it could replace the redaction or the serializers`, FIX_REDACT);
      else if (!ROOT_OPTIONS.has(name)) this.add(this.at(p), `the logger option ${name} cannot be verified: it can add to a line or move fields away from the redaction paths`, FIX_REDACT);
    }
    this.redaction(syntax.prop(options, 'redact'), options, this.logging);
    this.serializers(syntax.prop(options, 'serializers'), options);
  }

  /** The object literal written there (options held elsewhere could be changed after they were read). */
  private literal(node: TS.Expression): TS.ObjectLiteralExpression | undefined {
    const n = this.syntax.bare(node);
    return this.ts.isObjectLiteralExpression(n) ? n : undefined;
  }

  /** `Object.freeze(x)` -> x (bare). */
  private unfrozen(node: TS.Expression): TS.Expression {
    const { ts, syntax } = this;
    const n = syntax.bare(node);
    if (ts.isCallExpression(n) && n.arguments.length === 1 && squeezed(n.expression.getText()) === 'Object.freeze') return syntax.bare(n.arguments[0]!);
    return n;
  }

  /** pino's `redact` option: the required paths, censored by a string or removed. */
  private redaction(value: TS.Expression | undefined, owner: TS.ObjectLiteralExpression, sf: TS.SourceFile): void {
    const { ts, syntax } = this;
    if (!value) return this.add(this.at(owner), 'the logger options have no redact: cookies, Authorization, passwords and tokens reach the log as they are', FIX_REDACT);
    if (this.disabled(value)) return this.add(this.at(value), `the redaction is disabled (redact: ${value.getText()})`, FIX_REDACT);
    const options = this.literal(value);
    if (!options) return this.paths(value, sf); // an array of paths (or a constant holding one), censored by pino's default
    let paths: TS.Expression | undefined;
    for (const p of options.properties) {
      const name = ts.isSpreadAssignment(p) ? undefined : p.name && this.nameOf(p.name);
      const init = ts.isPropertyAssignment(p) ? syntax.bare(p.initializer) : undefined;
      if (name === 'paths' && init) paths = init;
      else if (name === 'censor' && init && syntax.str(init) !== undefined) continue;
      else if (name === 'censor' && init && (ts.isArrowFunction(init) || ts.isFunctionExpression(init))) this.add(this.at(p), 'the redaction censor is a function: it decides what is written, and can write the value itself', FIX_REDACT);
      else if (name === 'remove' && init && (init.kind === ts.SyntaxKind.TrueKeyword || init.kind === ts.SyntaxKind.FalseKeyword)) continue;
      else this.add(this.at(p), `the redaction option ${p.getText()} cannot be verified (paths, a string censor and remove: true/false are)`, FIX_REDACT);
    }
    if (!paths) return this.add(this.at(options), 'the redaction has no paths: nothing is redacted', FIX_REDACT);
    if (this.disabled(paths)) return this.add(this.at(paths), `the redaction is disabled (paths: ${paths.getText()})`, FIX_REDACT);
    this.paths(paths, sf);
  }

  /** redact: false / null / undefined / [] */
  private disabled(value: TS.Expression): boolean {
    const { ts } = this;
    const n = this.syntax.bare(value);
    return n.kind === ts.SyntaxKind.FalseKeyword || n.kind === ts.SyntaxKind.NullKeyword || (ts.isIdentifier(n) && n.text === 'undefined') || (ts.isArrayLiteralExpression(n) && n.elements.length === 0);
  }

  /** The redaction paths hold every required one (compared in one spelling). */
  private paths(value: TS.Expression, sf: TS.SourceFile): void {
    const { ts, syntax } = this;
    const found: string[] = [];
    const read = (node: TS.Expression, depth: number): string | undefined => {
      let n = this.unfrozen(node);
      if (ts.isIdentifier(n)) {
        const decl = syntax.constant(sf, n.text);
        if (!decl?.initializer || depth > 4) return `${n.text} is not a constant of ${syntax.rel(sf.fileName)}`;
        this.pathConstants.set(decl, sf);
        n = this.unfrozen(decl.initializer);
      }
      if (!ts.isArrayLiteralExpression(n)) return `${n.getText()} is not an array of strings`;
      for (const el of n.elements) {
        if (ts.isSpreadElement(el)) {
          const problem = read(el.expression, depth + 1);
          if (problem) return problem;
        } else if (syntax.str(el) !== undefined) found.push(syntax.str(el)!);
        else return `the path ${el.getText()} is not a string literal`;
      }
      return undefined;
    };
    const problem = read(value, 0);
    if (problem) return this.add(this.at(value), `the redaction paths cannot be verified: ${problem}`, FIX_REDACT);
    const have = new Set(found.map(canonicalPath));
    for (const [path, hides] of REQUIRED_REDACTIONS) {
      if (!have.has(canonicalPath(path))) this.add(this.at(value), `the redaction paths lack ${path}: ${hides} would be logged`, FIX_REDACT);
    }
  }

  /** The paths constant is a const no source changes (it is verified from its literal). */
  private pathConstantUnchanged(decl: TS.VariableDeclaration, sf: TS.SourceFile): void {
    const { ts, syntax } = this;
    const name = (decl.name as TS.Identifier).text;
    const list = decl.parent;
    if (!ts.isVariableDeclarationList(list) || !(list.flags & ts.NodeFlags.Const)) {
      this.add(this.at(decl), `${name} is not a const: the redaction paths can be reassigned`, FIX_REDACT);
    }
    const statement = list.parent;
    const exported =
      (ts.isVariableStatement(statement) && statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) ||
      syntax.all(sf, ts.isExportSpecifier).some((s) => (s.propertyName ?? s.name).text === name);
    // an exported constant can be reached from any module that imports it
    const files = exported ? syntax.sourcesMentioning(name).map((f) => syntax.source(f)).filter((f): f is TS.SourceFile => !!f) : [sf];
    if (!files.includes(sf)) files.push(sf);
    for (const file of files) {
      for (const id of syntax.all(file, ts.isIdentifier)) {
        if (id.text !== name || id === decl.name || !this.isReference(id)) continue;
        if (ts.isImportSpecifier(id.parent) || ts.isExportSpecifier(id.parent) || ts.isImportClause(id.parent)) continue;
        if (!this.readOnly(id)) this.add(this.at(id), `${name} is changed or handed on here (${this.useText(id)}): the redaction paths are verified from its literal only`, FIX_REDACT);
      }
    }
  }

  /** Whether a reference to the paths constant only reads it. */
  private readOnly(id: TS.Identifier): boolean {
    const { ts } = this;
    const n = this.outer(id);
    const p = n.parent;
    if (ts.isPropertyAssignment(p) && p.initializer === n) return true;
    if (ts.isShorthandPropertyAssignment(p)) return true;
    if (ts.isSpreadElement(p) && ts.isArrayLiteralExpression(p.parent)) return true;
    if (ts.isTypeQueryNode(p)) return true;
    if (ts.isPropertyAccessExpression(p) && p.expression === n) return READ_ONLY_MEMBERS.has(p.name.text) && !this.written(p);
    if (ts.isElementAccessExpression(p) && p.expression === n) return !this.written(p);
    if (ts.isCallExpression(p) && p.arguments.includes(n as TS.Expression)) return squeezed(p.expression.getText()) === 'Object.freeze';
    return false;
  }

  /** An assignment target, or the operand of delete / ++ / --. */
  private written(node: TS.Expression): boolean {
    const { ts } = this;
    const n = this.outer(node);
    const p = n.parent;
    if (ts.isBinaryExpression(p) && p.left === n && p.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && p.operatorToken.kind <= ts.SyntaxKind.LastAssignment) return true;
    if (ts.isDeleteExpression(p)) return true;
    if ((ts.isPrefixUnaryExpression(p) || ts.isPostfixUnaryExpression(p)) && (p.operator === ts.SyntaxKind.PlusPlusToken || p.operator === ts.SyntaxKind.MinusMinusToken)) return true;
    return false;
  }

  /** The serializers: req and res of the verified shapes, pino's err, nothing else. */
  private serializers(value: TS.Expression | undefined, owner: TS.ObjectLiteralExpression): void {
    const { ts } = this;
    if (!value) return this.add(this.at(owner), "the logger options have no serializers: Fastify's default req serializer logs the full URL (reset and invitation tokens ride in its query string)", FIX_SERIALIZERS);
    const serializers = this.literal(value);
    if (!serializers) return this.add(this.at(value), `the serializers are ${value.getText()}: not a literal object, what they log cannot be verified`, FIX_SERIALIZERS);
    const seen = new Set<string>();
    for (const p of serializers.properties) {
      const name = ts.isSpreadAssignment(p) ? undefined : p.name && this.nameOf(p.name);
      if (name === undefined) {
        this.add(this.at(p), `the serializers hold ${p.getText()}, which cannot be verified: it could replace req or res`, FIX_SERIALIZERS);
        continue;
      }
      seen.add(name);
      if (name === 'req') this.requestSerializer(p);
      else if (name === 'res') this.replySerializer(p);
      else if (name === 'err' && ts.isPropertyAssignment(p) && /(^|\.)stdSerializers\.err$/.test(squeezed(this.syntax.bare(p.initializer).getText()))) continue;
      else this.add(this.at(p), `a serializer for ${name}: what it returns is logged as it is${/header|body|cookie|query|param/i.test(name) ? ', and the access line is not redacted' : ''}, which this check cannot verify`, FIX_SERIALIZERS);
    }
    if (!seen.has('req')) this.add(this.at(serializers), "there is no req serializer: Fastify's default logs the full URL (reset and invitation tokens ride in its query string) and the host", FIX_SERIALIZERS);
    if (!seen.has('res')) this.add(this.at(serializers), "there is no res serializer: the access line's res (not redacted) cannot be verified", FIX_SERIALIZERS);
  }

  /** The function a serializer entry holds (arrow, function, method, or a function of the module by name). */
  private serializerFn(p: TS.ObjectLiteralElementLike): Fn | undefined {
    const { ts, syntax } = this;
    if (ts.isMethodDeclaration(p)) return p;
    const value = ts.isPropertyAssignment(p) ? syntax.bare(p.initializer) : ts.isShorthandPropertyAssignment(p) ? p.name : undefined;
    if (!value) return undefined;
    if (ts.isArrowFunction(value) || ts.isFunctionExpression(value)) return value;
    return ts.isIdentifier(value) ? syntax.func(this.logging, value.text) : undefined;
  }

  /** The object literal a function returns: its expression body, or a body of one return statement. */
  private returnedObject(fn: Fn): TS.ObjectLiteralExpression | undefined {
    const { ts, syntax } = this;
    const body = fn.body;
    if (!body) return undefined;
    let value: TS.Expression | undefined;
    if (!ts.isBlock(body)) value = body;
    else {
      const only = body.statements.length === 1 ? body.statements[0] : undefined;
      if (only && ts.isReturnStatement(only)) value = only.expression;
    }
    const n = value && syntax.bare(value);
    return n && ts.isObjectLiteralExpression(n) ? n : undefined;
  }

  /** The serializer's parameter and the literal it returns, or a finding that they cannot be read. */
  private serializerShape(p: TS.ObjectLiteralElementLike, which: string): { param: string; fields: TS.ObjectLiteralExpression } | undefined {
    const { ts } = this;
    const fn = this.serializerFn(p);
    const param = fn?.parameters[0]?.name;
    const fields = fn && this.returnedObject(fn);
    if (!fn || !param || !ts.isIdentifier(param) || !fields) {
      this.add(this.at(p), `the ${which} serializer is not a function returning a literal object from its parameter: what it logs cannot be verified`, FIX_SERIALIZERS);
      return undefined;
    }
    return { param: param.text, fields };
  }

  private requestSerializer(p: TS.ObjectLiteralElementLike): void {
    const { ts } = this;
    const shape = this.serializerShape(p, 'req');
    if (!shape) return;
    for (const field of shape.fields.properties) {
      if (!ts.isPropertyAssignment(field)) {
        this.add(this.at(field), `the req serializer returns ${field.getText()}, which cannot be verified`, FIX_SERIALIZERS);
        continue;
      }
      const value = field.initializer;
      const member = this.memberOf(value, shape.param);
      if ((member && REQUEST_FIELDS.has(member)) || this.pathWithoutQuery(value, shape.param)) continue;
      const text = squeezed(value.getText());
      const why = /url/i.test(text)
        ? 'the URL with its query string, where reset and invitation links carry tokens'
        : /header|cookie/i.test(text)
          ? 'request headers (cookies, Authorization)'
          : /body/i.test(text)
            ? 'the request body (passwords, tokens)'
            : 'not the method, the path without its query string nor the client address';
      this.add(this.at(field), `the req serializer logs ${value.getText()}: ${why} (the access line is not redacted)`, FIX_SERIALIZERS);
    }
  }

  private replySerializer(p: TS.ObjectLiteralElementLike): void {
    const { ts } = this;
    const shape = this.serializerShape(p, 'res');
    if (!shape) return;
    for (const field of shape.fields.properties) {
      if (ts.isPropertyAssignment(field) && this.memberOf(field.initializer, shape.param) === 'statusCode') continue;
      this.add(this.at(field), `the res serializer returns ${field.getText()}: only the status code is verified (the access line is not redacted)`, FIX_SERIALIZERS);
    }
  }

  /** `param.a.b` (optional chains and casts allowed) -> 'a.b'; undefined for anything else. */
  private memberOf(node: TS.Expression, param: string): string | undefined {
    const { ts, syntax } = this;
    const names: string[] = [];
    let n = syntax.bare(node);
    while (ts.isPropertyAccessExpression(n)) {
      names.unshift(n.name.text);
      n = syntax.bare(n.expression);
    }
    return ts.isIdentifier(n) && n.text === param && names.length > 0 ? names.join('.') : undefined;
  }

  /** `request.url.split('?')[0]` (or `split('?', 1)[0]`), or `new URL(request.url, base).pathname`. */
  private pathWithoutQuery(node: TS.Expression, param: string): boolean {
    const { ts, syntax } = this;
    const n = syntax.bare(node);
    const isUrl = (e: TS.Expression | undefined) => !!e && REQUEST_URLS.has(this.memberOf(e, param) ?? '');
    if (ts.isElementAccessExpression(n) && syntax.num(n.argumentExpression) === 0) {
      const call = syntax.bare(n.expression);
      if (!ts.isCallExpression(call)) return false;
      const callee = syntax.bare(call.expression);
      const [separator, limit] = call.arguments;
      return (
        ts.isPropertyAccessExpression(callee) && callee.name.text === 'split' && isUrl(callee.expression) &&
        syntax.str(separator) === '?' && (call.arguments.length === 1 || (call.arguments.length === 2 && syntax.num(limit) === 1))
      );
    }
    if (ts.isPropertyAccessExpression(n) && n.name.text === 'pathname') {
      const made = syntax.bare(n.expression);
      return ts.isNewExpression(made) && ts.isIdentifier(made.expression) && made.expression.text === 'URL' && isUrl(made.arguments?.[0]);
    }
    return false;
  }

  // ---- the access line: RequestLogger.accessLine writes without the redaction

  /**
   * In each accessLine method: the child made with its own redact, where it is kept (a local variable,
   * a module-level cache) and every write through it: the fields of the call and the request id only.
   */
  private unredactedWrites(methods: TS.MethodDeclaration[]): void {
    const { ts, syntax } = this;
    const caches = new Set<string>();
    const allowedCacheUses = new Set<TS.Node>();
    for (const method of methods) {
      if (!method.body) continue;
      const [fieldsParam, msgParam] = method.parameters.map((p) => (ts.isIdentifier(p.name) ? p.name.text : undefined));
      if (!fieldsParam || !msgParam) {
        this.add(this.at(method), "accessLine's parameters are not (fields, msg): what it writes cannot be verified", FIX_UNREDACTED);
        continue;
      }
      const vars = new Set<string>();
      const writes: TS.CallExpression[] = [];
      const children = syntax.all(method.body, ts.isCallExpression).filter((c) => this.redactOptions(c) !== undefined);
      for (const child of children) {
        const options = this.redactOptions(child)!;
        this.judged.add(options);
        const extra = options.properties.filter((p) => ts.isSpreadAssignment(p) || !p.name || this.nameOf(p.name) !== 'redact');
        if (extra.length > 0) this.add(this.at(child), `the unredacted child also sets ${extra.map((p) => p.getText()).join(', ')}: it could change what the access line holds`, FIX_UNREDACTED);
        const bindings = child.arguments[0] && syntax.bare(child.arguments[0]);
        if (!bindings || !ts.isObjectLiteralExpression(bindings) || bindings.properties.length > 0) {
          this.add(this.at(child), `the unredacted child binds ${bindings?.getText() ?? 'nothing'}, not {}: bound fields would reach every access line unredacted`, FIX_UNREDACTED);
        }
        const at = this.outer(child);
        const p = at.parent;
        if (ts.isPropertyAccessExpression(p) && p.expression === at && ts.isCallExpression(p.parent) && p.parent.expression === p) writes.push(p.parent);
        else if (ts.isVariableDeclaration(p) && p.initializer === at && ts.isIdentifier(p.name)) vars.add(p.name.text);
        else if (this.isAssignment(p) && p.right === at && ts.isIdentifier(p.left)) {
          vars.add(p.left.text);
          // kept in a cache: CACHE.set(key, (unredacted = child))
          const assignment = this.outer(p);
          const call = assignment.parent;
          const callee = ts.isCallExpression(call) ? syntax.bare(call.expression) : undefined;
          if (ts.isExpressionStatement(call)) continue;
          if (ts.isCallExpression(call) && call.arguments[1] === assignment && callee && ts.isPropertyAccessExpression(callee) && callee.name.text === 'set' && ts.isIdentifier(callee.expression)) {
            caches.add(callee.expression.text);
            allowedCacheUses.add(callee.expression);
          } else this.add(this.at(child), `the unredacted child is handed on here (${call.getText()})`, FIX_UNREDACTED);
        } else this.add(this.at(child), `the unredacted child is handed on here (${p.getText()})`, FIX_UNREDACTED);
      }
      // every use of a variable holding the unredacted child: tested, assigned, or written through
      for (const id of syntax.all(method.body, ts.isIdentifier)) {
        if (!vars.has(id.text) || !this.isReference(id)) continue;
        const n = this.outer(id);
        const p = n.parent;
        if (ts.isVariableDeclaration(p) && p.name === id) {
          const init = p.initializer && syntax.bare(p.initializer);
          if (!init || this.redactOptions(init) !== undefined) continue;
          const get = this.cacheGet(init);
          if (get) allowedCacheUses.add(get);
          else this.add(this.at(p), `the unredacted logger ${id.text} starts as ${init.getText()}, which cannot be verified`, FIX_UNREDACTED);
          continue;
        }
        if (this.isAssignment(p) && p.left === n) {
          const right = syntax.bare(p.right);
          const get = this.cacheGet(right);
          if (get) allowedCacheUses.add(get);
          else if (this.redactOptions(right) === undefined) this.add(this.at(p), `the unredacted logger ${id.text} is assigned ${p.right.getText()}, which cannot be verified`, FIX_UNREDACTED);
          continue;
        }
        if (this.truthTest(n)) continue;
        if (ts.isPropertyAccessExpression(p) && p.expression === n && ts.isCallExpression(p.parent) && p.parent.expression === p) {
          writes.push(p.parent);
          continue;
        }
        this.add(this.at(id), `the unredacted logger ${id.text} is used here (${p.getText()}): only its access-line write is verified`, FIX_UNREDACTED);
      }
      const fieldUses = new Set<TS.Node>();
      for (const write of writes) this.unredactedWrite(write, fieldsParam, msgParam, fieldUses);
      // the fields: written through the unredacted child as they are, or handed to the redacted logger
      for (const id of syntax.all(method.body, ts.isIdentifier)) {
        if (id.text !== fieldsParam || !this.isReference(id) || fieldUses.has(id)) continue;
        const n = this.outer(id);
        const call = n.parent;
        if (ts.isCallExpression(call) && call.arguments.includes(n as TS.Expression) && this.redactedLevelCall(call)) continue;
        this.add(this.at(id), `accessLine's ${fieldsParam} are used here (${call.getText()}): it may only write them as they are, or hand them to the redacted logger`, FIX_UNREDACTED);
      }
    }
    // the caches of unredacted children: module constants of src/server/logging.ts read only by accessLine
    for (const cache of caches) {
      const decl = syntax.constant(this.logging, cache);
      const statement = decl?.parent.parent;
      if (!decl || (statement && ts.isVariableStatement(statement) && statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) || syntax.all(this.logging, ts.isExportSpecifier).some((s) => (s.propertyName ?? s.name).text === cache)) {
        this.add(decl ? this.at(decl) : LOGGING, `${cache}, the cache of unredacted children, is not a module constant of src/server/logging.ts that only accessLine reads`, FIX_UNREDACTED);
      }
      for (const id of syntax.all(this.logging, ts.isIdentifier)) {
        if (id.text !== cache || id === decl?.name || !this.isReference(id) || allowedCacheUses.has(id)) continue;
        this.add(this.at(id), `${cache}, the cache of unredacted children, is used here (${this.outer(id).parent.getText()}): its loggers write without the redaction`, FIX_UNREDACTED);
      }
    }
  }

  /** The options literal of a `.child(bindings, { redact, ... })` call, when it sets redact. */
  private redactOptions(node: TS.Node): TS.ObjectLiteralExpression | undefined {
    const { ts, syntax } = this;
    if (!ts.isCallExpression(node)) return undefined;
    const callee = syntax.bare(node.expression);
    const options = node.arguments[1] && syntax.bare(node.arguments[1]);
    if (!ts.isPropertyAccessExpression(callee) || callee.name.text !== 'child' || !options || !ts.isObjectLiteralExpression(options)) return undefined;
    return options.properties.some((p) => !ts.isSpreadAssignment(p) && p.name && this.nameOf(p.name) === 'redact') ? options : undefined;
  }

  /** `CACHE.get(...)` -> the CACHE identifier. */
  private cacheGet(node: TS.Expression): TS.Identifier | undefined {
    const { ts, syntax } = this;
    const n = syntax.bare(node);
    if (!ts.isCallExpression(n)) return undefined;
    const callee = syntax.bare(n.expression);
    return ts.isPropertyAccessExpression(callee) && callee.name.text === 'get' && ts.isIdentifier(callee.expression) ? callee.expression : undefined;
  }

  /** `!x`, `if (x)`, `x === undefined` and the like. */
  private truthTest(n: TS.Expression): boolean {
    const { ts, syntax } = this;
    const p = n.parent;
    if (ts.isPrefixUnaryExpression(p) && p.operator === ts.SyntaxKind.ExclamationToken) return true;
    if ((ts.isIfStatement(p) || ts.isWhileStatement(p)) && p.expression === n) return true;
    if (ts.isBinaryExpression(p) && [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken].includes(p.operatorToken.kind)) {
      const other = syntax.bare(p.left === n ? p.right : p.left);
      return other.kind === ts.SyntaxKind.NullKeyword || (ts.isIdentifier(other) && other.text === 'undefined');
    }
    return false;
  }

  /** A write through the unredacted child: `<level>({ ...this.bindings, ...fields }, msg)`. */
  private unredactedWrite(call: TS.CallExpression, fields: string, msg: string, fieldUses: Set<TS.Node>): void {
    const { ts, syntax } = this;
    const level = (syntax.bare(call.expression) as TS.PropertyAccessExpression).name.text;
    if (!LEVELS.has(level)) return this.add(this.at(call), `the unredacted logger's ${level}() is called: only a line written at a level is verified`, FIX_UNREDACTED);
    const [line, message] = call.arguments.map((a) => syntax.bare(a));
    if (call.arguments.length !== 2 || !line || !message) return this.add(this.at(call), `the unredacted logger is called with ${call.arguments.length} arguments, not (fields, msg): what it writes cannot be verified`, FIX_UNREDACTED);
    if (!(ts.isIdentifier(message) && message.text === msg) && syntax.str(message) === undefined) {
      this.add(this.at(message), `the unredacted access line's message is ${message.getText()}, not accessLine's msg`, FIX_UNREDACTED);
    }
    if (!ts.isObjectLiteralExpression(line)) return this.add(this.at(line), `the unredacted access line writes ${line.getText()}, not a literal object: what it holds cannot be verified`, FIX_UNREDACTED);
    for (const p of line.properties) {
      if (ts.isSpreadAssignment(p)) {
        const spread = syntax.bare(p.expression);
        if (ts.isIdentifier(spread) && spread.text === fields) {
          fieldUses.add(spread);
          continue;
        }
        if (squeezed(spread.getText()) === 'this.bindings') continue;
      } else if (ts.isPropertyAssignment(p)) {
        const name = p.name && this.nameOf(p.name);
        const value = syntax.bare(p.initializer);
        if (name && ['req', 'res', 'responseTime'].includes(name) && ts.isPropertyAccessExpression(value) && value.name.text === name && ts.isIdentifier(syntax.bare(value.expression)) && (syntax.bare(value.expression) as TS.Identifier).text === fields) {
          fieldUses.add(syntax.bare(value.expression));
          continue;
        }
      }
      this.add(this.at(p), `the unredacted access line also writes ${p.getText()}: only accessLine's fields (req, res, responseTime) and the request id may skip the redaction`, FIX_UNREDACTED);
    }
  }

  /** A call writing through the redacted logger: `this.info(...)`, `this.logger.warn(...)`. */
  private redactedLevelCall(call: TS.CallExpression): boolean {
    const { ts, syntax } = this;
    const callee = syntax.bare(call.expression);
    if (!ts.isPropertyAccessExpression(callee) || !LEVELS.has(callee.name.text)) return false;
    const target = squeezed(syntax.bare(callee.expression).getText());
    return target === 'this' || target === 'this.logger';
  }

  /** Every accessLine call: from AccessLog.requestCompleted, with exactly req, res and responseTime. */
  private accessLineCalls(): void {
    const { ts, syntax } = this;
    for (const sf of this.sourcesWith('accessLine')) {
      for (const node of syntax.all(sf, (n): n is TS.Identifier | TS.StringLiteralLike => ts.isIdentifier(n) || ts.isStringLiteralLike(n))) {
        if (node.text !== 'accessLine') continue;
        const p = node.parent;
        if (ts.isIdentifier(node)) {
          // the method itself, or its declaration in a type
          if ((ts.isMethodDeclaration(p) || ts.isMethodSignature(p) || ts.isPropertySignature(p)) && p.name === node) continue;
          if (ts.isPropertyAccessExpression(p) && p.name === node && ts.isCallExpression(p.parent) && p.parent.expression === p) {
            this.accessLineCall(p.parent, sf);
            continue;
          }
          this.add(this.at(node), `accessLine is used here (${p.getText()}) other than as a method call: where its unredacted lines come from cannot be verified`, FIX_ACCESS);
        } else if (ts.isElementAccessExpression(p) && p.argumentExpression === node) {
          this.add(this.at(node), `accessLine is reached as ${p.getText()}: where its unredacted lines come from cannot be verified`, FIX_ACCESS);
        }
      }
    }
  }

  private accessLineCall(call: TS.CallExpression, sf: TS.SourceFile): void {
    const { ts, syntax } = this;
    let fn: TS.Node | undefined = call.parent;
    while (fn && !ts.isFunctionLike(fn)) fn = fn.parent;
    const inRequestCompleted =
      sf === this.logging && fn && ts.isMethodDeclaration(fn) && this.nameOf(fn.name) === 'requestCompleted' &&
      ts.isClassDeclaration(fn.parent) && fn.parent.name?.text === 'AccessLog';
    if (!inRequestCompleted || !fn || !ts.isMethodDeclaration(fn) || !fn.body) {
      return this.add(this.at(call), 'accessLine is called outside AccessLog.requestCompleted (src/server/logging.ts): its line skips the redaction', FIX_ACCESS);
    }
    const [, request, reply] = fn.parameters.map((p) => (ts.isIdentifier(p.name) ? p.name.text : undefined));
    if (call.arguments.length !== 2) return this.add(this.at(call), `accessLine is called with ${call.arguments.length} arguments, not (fields, message)`, FIX_ACCESS);
    const message = syntax.bare(call.arguments[1]!);
    if (syntax.str(message) === undefined) this.add(this.at(message), `the access line's message is ${message.getText()}, not a literal: it is written without the redaction`, FIX_ACCESS);
    const fields = this.accessFields(call.arguments[0]!, fn.body);
    if (!fields) return this.add(this.at(call), `accessLine is given ${call.arguments[0]!.getText()}: not a literal object (or a const of one), what its line holds cannot be verified`, FIX_ACCESS);
    for (const p of fields.properties) {
      const name = ts.isSpreadAssignment(p) ? undefined : p.name && this.nameOf(p.name);
      const value = ts.isPropertyAssignment(p) ? syntax.bare(p.initializer) : ts.isShorthandPropertyAssignment(p) ? p.name : undefined;
      const holds =
        (name === 'req' && value && ts.isIdentifier(value) && value.text === request) ||
        (name === 'res' && value && ts.isIdentifier(value) && value.text === reply) ||
        (name === 'responseTime' && value && ts.isPropertyAccessExpression(value) && value.name.text === 'elapsedTime' && ts.isIdentifier(syntax.bare(value.expression)) && (syntax.bare(value.expression) as TS.Identifier).text === reply);
      if (!holds) this.add(this.at(p), `accessLine is given ${p.getText()}: its line skips the redaction, so it may hold only req: ${request ?? 'request'}, res: ${reply ?? 'reply'} and responseTime: ${reply ?? 'reply'}.elapsedTime`, FIX_ACCESS);
    }
  }

  /** The fields object of an accessLine call: a literal, or a const of the method holding one that is only handed to loggers. */
  private accessFields(arg: TS.Expression, body: TS.Block): TS.ObjectLiteralExpression | undefined {
    const { ts, syntax } = this;
    const n = syntax.bare(arg);
    if (ts.isObjectLiteralExpression(n)) return n;
    if (!ts.isIdentifier(n)) return undefined;
    const decls = syntax.all(body, ts.isVariableDeclaration).filter((d) => ts.isIdentifier(d.name) && d.name.text === n.text);
    const decl = decls[0];
    const init = decl?.initializer && syntax.bare(decl.initializer);
    if (decls.length !== 1 || !decl || !init || !ts.isObjectLiteralExpression(init) || !(decl.parent.flags & ts.NodeFlags.Const)) return undefined;
    for (const id of syntax.all(body, ts.isIdentifier)) {
      if (id.text !== n.text || id === decl.name || !this.isReference(id)) continue;
      const use = this.outer(id);
      const call = use.parent;
      const name = ts.isCallExpression(call) && call.arguments.includes(use as TS.Expression) ? syntax.calleeName(call) : undefined;
      if (name !== 'accessLine' && !(name && LEVELS.has(name))) {
        this.add(this.at(id), `the access line's fields (${n.text}) are changed or handed on here (${call.getText()})`, FIX_ACCESS);
      }
    }
    return init;
  }

  // ---- other loggers: children, pino(), other redact options

  /** A child logger inherits the server's redaction and serializers unless its options set their own. */
  private childLoggers(): void {
    const { ts, syntax } = this;
    for (const sf of this.sourcesWith('child')) {
      for (const call of syntax.all(sf, ts.isCallExpression)) {
        const callee = syntax.bare(call.expression);
        if (!ts.isPropertyAccessExpression(callee) || callee.name.text !== 'child' || call.arguments.length < 2) continue;
        const options = syntax.bare(call.arguments[1]!);
        if (this.judged.has(options)) continue; // accessLine's own child
        if (ts.isObjectLiteralExpression(options)) {
          this.judged.add(options);
          for (const p of options.properties) {
            const name = ts.isSpreadAssignment(p) ? undefined : p.name && this.nameOf(p.name);
            if (name && CHILD_OPTIONS.has(name)) continue;
            if (ts.isSpreadAssignment(p) && this.passedThrough(syntax.bare(p.expression), call)) continue; // { ...options, level }
            const what = name === 'redact' ? 'a redaction of its own' : name === 'serializers' ? 'serializers of its own' : `${p.getText()}, which cannot be verified`;
            this.add(this.at(p), `a child logger made with ${what}: only RequestLogger.accessLine may write without the server's redaction and serializers`, FIX_UNREDACTED);
          }
        } else if (!this.passedThrough(options, call)) {
          this.add(this.at(call), `a child logger made with options ${options.getText()}: not a literal nor the caller's options, they could drop the redaction`, FIX_UNREDACTED);
        }
      }
    }
  }

  /** The options a child logger factory was handed (a parameter, or a constructor parameter property). */
  private passedThrough(options: TS.Expression, from: TS.Node): boolean {
    const { ts } = this;
    let fn: TS.Node | undefined = from.parent;
    while (fn && !ts.isFunctionLike(fn)) fn = fn.parent;
    if (!fn || !ts.isFunctionLike(fn)) return false;
    if (ts.isIdentifier(options)) return fn.parameters.some((p) => ts.isIdentifier(p.name) && p.name.text === options.text);
    if (ts.isPropertyAccessExpression(options) && options.expression.kind === ts.SyntaxKind.ThisKeyword) {
      const cls = fn.parent;
      const ctor = cls && ts.isClassLike(cls) ? cls.members.find(ts.isConstructorDeclaration) : undefined;
      return !!ctor?.parameters.some((p) => ts.isIdentifier(p.name) && p.name.text === options.name.text && ts.getModifiers(p)?.length);
    }
    return false;
  }

  /** A logger made with pino() must carry the required redaction. */
  private pinoLoggers(): void {
    const { ts, syntax } = this;
    for (const sf of this.sourcesWith('pino')) {
      const { locals, namespaces } = this.importedAs(sf, 'pino', ['default', 'pino']);
      if (locals.size === 0 && namespaces.size === 0) continue;
      for (const call of syntax.all(sf, ts.isCallExpression)) {
        const callee = syntax.bare(call.expression);
        const root =
          (ts.isIdentifier(callee) && locals.has(callee.text)) ||
          (ts.isPropertyAccessExpression(callee) && ['pino', 'default'].includes(callee.name.text) && ts.isIdentifier(callee.expression) && (locals.has(callee.expression.text) || namespaces.has(callee.expression.text)));
        if (!root) continue;
        const options = call.arguments[0] && this.literal(call.arguments[0]);
        if (!options) {
          this.add(this.at(call), `a pino logger made here (${call.getText()}) without literal options: it does not carry the server's redaction`, FIX_REDACT);
          continue;
        }
        this.judged.add(options);
        this.redaction(syntax.prop(options, 'redact'), options, sf);
      }
    }
  }

  /** Any other logger options with a `redact` of their own (held in a constant, handed to a factory, ...). */
  private otherRedactions(): void {
    const { ts, syntax } = this;
    for (const sf of this.sourcesWith('redact')) {
      for (const p of syntax.all(sf, ts.isPropertyAssignment)) {
        if (this.nameOf(p.name) !== 'redact' || this.judged.has(p.parent) || !this.pinoRedaction(p.initializer)) continue;
        this.add(this.at(p), `logger options with a redaction of their own (${p.getText()}): only loggerOptions' redaction is verified, and only accessLine may write without it`, FIX_UNREDACTED);
      }
    }
  }

  /** A value pino reads as redaction options: paths, an options object, or nothing. (An audit rule's `redact` maps tables to columns.) */
  private pinoRedaction(value: TS.Expression): boolean {
    const { ts } = this;
    const n = this.syntax.bare(value);
    if (this.disabled(n) || ts.isArrayLiteralExpression(n)) return true;
    return ts.isObjectLiteralExpression(n) && n.properties.some((p) => !ts.isSpreadAssignment(p) && p.name && ['paths', 'censor', 'remove'].includes(this.nameOf(p.name) ?? ''));
  }

  // ---- small syntax helpers

  private nameOf(name: TS.PropertyName | TS.Node): string | undefined {
    const { ts } = this;
    if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) || ts.isPrivateIdentifier(name)) return name.text;
    if (ts.isComputedPropertyName(name)) return this.syntax.str(name.expression);
    return undefined;
  }

  /** The expression a reference is used in, for a message: `X.splice(0, 3)`, `X.length = 0`, `f(X)`. */
  private useText(id: TS.Identifier): string {
    const { ts } = this;
    let n: TS.Node = this.outer(id).parent;
    const around = n.parent;
    if ((ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n)) && (ts.isCallExpression(around) || ts.isBinaryExpression(around) || ts.isDeleteExpression(around) || ts.isPrefixUnaryExpression(around) || ts.isPostfixUnaryExpression(around))) n = around;
    return n.getText();
  }

  /** The outermost expression around a node made only of parentheses, casts and non-null assertions. */
  private outer(node: TS.Expression): TS.Expression {
    const { ts } = this;
    let n = node;
    while (ts.isParenthesizedExpression(n.parent) || ts.isAsExpression(n.parent) || ts.isSatisfiesExpression(n.parent) || ts.isNonNullExpression(n.parent) || ts.isTypeAssertionExpression(n.parent)) n = n.parent;
    return n;
  }

  private isAssignment(n: TS.Node): n is TS.BinaryExpression {
    const { ts } = this;
    return ts.isBinaryExpression(n) && [ts.SyntaxKind.EqualsToken, ts.SyntaxKind.QuestionQuestionEqualsToken, ts.SyntaxKind.BarBarEqualsToken].includes(n.operatorToken.kind);
  }

  /** An identifier naming a value (not a property name, a member's name or a parameter's declaration). */
  private isReference(id: TS.Identifier): boolean {
    const { ts } = this;
    const p = id.parent;
    if ((ts.isPropertyAccessExpression(p) && p.name === id) || (ts.isQualifiedName(p) && p.right === id)) return false;
    if ((ts.isPropertyAssignment(p) || ts.isMethodDeclaration(p) || ts.isPropertyDeclaration(p) || ts.isPropertySignature(p) || ts.isMethodSignature(p) || ts.isGetAccessor(p) || ts.isSetAccessor(p) || ts.isParameter(p) || ts.isBindingElement(p)) && p.name === id) return false;
    if (ts.isFunctionDeclaration(p) || ts.isClassDeclaration(p) || ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p)) return false;
    return true;
  }
}

/**
 * A pino redaction path in one spelling: `a["b"]` and `a['b']` read as `a.b`, `a[*]` as `a.*`; a key
 * that is not an identifier keeps its brackets (`headers["set-cookie"]`). Anything else is kept as written.
 */
export function canonicalPath(path: string): string {
  const segments: string[] = [];
  let rest = path.trim();
  while (rest.length > 0) {
    if (rest.startsWith('.')) {
      rest = rest.slice(1);
      continue;
    }
    const bracket = /^\[\s*(?:"([^"]*)"|'([^']*)'|(\*))\s*\]/.exec(rest);
    if (bracket) {
      const quoted = bracket[1] ?? bracket[2];
      segments.push(quoted === undefined ? '*' : /^[A-Za-z_$][\w$]*$/.test(quoted) ? quoted : `["${quoted}"]`);
      rest = rest.slice(bracket[0].length);
      continue;
    }
    const plain = /^[^.[]+/.exec(rest);
    if (!plain) return path;
    segments.push(plain[0].trim());
    rest = rest.slice(plain[0].length);
  }
  return segments.map((s, i) => (i === 0 || s.startsWith('[') ? s : `.${s}`)).join('');
}
