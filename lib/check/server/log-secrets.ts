/**
 * SRV021 of `xms check` (invariant I9): nothing secret reaches the server's logs. What a line may hold
 * is decided by src/server/logging.ts, wired by src/server/app.ts; this check reads both (and every
 * source under src/ that makes or writes through a logger) from the syntax tree:
 *   - wiring: the Fastify options of src/server/app.ts take their logger from loggerOptions(...) of
 *     src/server/logging.ts (no loggerInstance), and a childLoggerFactory, if any, is its requestLogger;
 *     so do those of any other Fastify server under src/ (checked per file, checkServerWiringIn);
 *   - redaction: every object loggerOptions returns has `redact` with paths (REDACTED_PATHS, a constant
 *     of the module or a literal) holding every path of REQUIRED_REDACTIONS, censored by a string (or
 *     removed), and only options that cannot add to or move what a line holds; the paths constant is
 *     a const that no source changes;
 *   - serializers: `req` returns only the method, the path without its query string (reset and
 *     invitation links carry tokens there) and the client address; `res` only the status code; no
 *     other serializer but pino's standard `err`;
 *   - the access line: RequestLogger.accessLine builds its JSON line and writes it to pino's stream
 *     itself, for speed, so the line skips the redaction and is safe only while it holds nothing but
 *     the serializers' output. So accessLine is called only from AccessLog.requestCompleted, with
 *     exactly { req: request, res: reply, responseTime: reply.elapsedTime } and a literal message; it
 *     hands fields.req and fields.res only to the serializers loggerOptions names (module functions),
 *     stringifies only the request id, their output, the duration and the message, and writes only
 *     that JSON after pino's level, time and bindings, to pino's stream: at once (`write`) or made
 *     when the stream's batch is written (`writeLater` of an arrow function returning it). The consts
 *     its line is made of (the fields' object, text, the function) are used only there. It calls
 *     nothing else but the redacted logger (and pino's level test), and no logger is made with a
 *     `redact` of its own;
 *   - other loggers: no child logger sets its own redaction or serializers (a child otherwise
 *     inherits loggerOptions'), no route sets its own (Fastify's `logSerializers`), no pino() logger
 *     is made without the same redaction, and no other logger options with a `redact` of their own
 *     appear in the sources;
 *   - no line past the logger: no code under src/ but the entry points, scripts and the development
 *     mailer (PRINTING_FILES) uses `console` or process.stdout / stderr, which print what they are
 *     given unredacted.
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
const FIX_SERIALIZERS = "serializers: { req: serializeRequest, res: serializeReply }, functions of src/server/logging.ts: serializeRequest(request) returns { method: request.method, path: request.url.split('?')[0], remoteAddress: request.ip }, serializeReply(reply) returns { statusCode: reply.statusCode }";
const FIX_ACCESS = "call accessLine only from AccessLog.requestCompleted with { req: request, res: reply, responseTime: reply.elapsedTime } and a literal message; log anything else through request.log (redacted)";
const FIX_LINE = "in RequestLogger.accessLine make the line only of `{\"level\":${parent.levels.values.info}${parent[pino.symbols.timeSym]()}${parent[pino.symbols.chindingsSym]},` and JSON.stringify(line).slice(1) + '\\n', line = { reqId: this.bindings.reqId, req: serializeRequest(fields.req), res: serializeReply(fields.res), responseTime: fields.responseTime, msg }, and hand it to parent[pino.symbols.streamSym] (parent = this.parent): .writeLater(() => `...`) or .write(`...`); log anything else through this.info (redacted)";
const FIX_CONSOLE = 'log through request.log (or app.log): its lines are redacted; console and process.stdout / stderr write whatever they are given (a script that prints belongs outside src/, e.g. in scripts/)';
/**
 * The template's files under src/ whose output is the console: the entry points and scripts, each a
 * process of its own (the server's start, the development server, the migrator, the deploy-headers
 * writer), and the mailer, whose development transport prints e-mails by design. Everything else
 * under src/ runs in the server, where a request's headers, body and tokens are at hand: in routes,
 * but also in the hooks of src/server/ and src/security/ and in what they call.
 */
const PRINTING_FILES = new Set(['src/server/index.ts', 'src/server/dev-server.ts', 'src/server/dev.mjs', 'src/db/migrate.ts', 'src/security/write-deploy-headers.ts', 'src/mail/mailer.ts']);
/** A file's path in the app as APP and PRINTING_FILES spell it (relative, with /). */
const appPath = (syntax: Syntax, file: string) => syntax.rel(file).split('\\').join('/');
const FIX_ROUTE_SERIALIZERS = "remove the route's logSerializers: its lines use the server's serializers (loggerOptions), and anything else it must log goes through request.log, redacted";
const FIX_CHILD = "make other loggers as children of the server's with at most level and msgPrefix options: they keep loggerOptions' redaction and serializers, and no logger has a redact of its own";

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
/** What one accessLine method's line is made of: its parameters' names, its consts by what they hold, their verified uses. */
interface AccessLine {
  fields: string;
  msg: string;
  /** consts holding this.parent or a member of it (the stream): name -> member path ('' for the parent) */
  aliases: Map<string, string>;
  /** consts holding a JSON.stringify(...) */
  json: Set<string>;
  /** consts holding an object literal: the line's fields, verified where they are stringified */
  objects: Map<string, TS.ObjectLiteralExpression>;
  /** consts holding text (pino's level, time and bindings), verified where they are written */
  heads: Map<string, TS.Expression>;
  /** consts holding an arrow function of no arguments returning the line (its body), verified where it is written */
  texts: Map<string, TS.Expression>;
  /** the references of those consts in a verified place */
  verified: Set<TS.Identifier>;
  /** the consts whose text is being verified (a text made of itself is not followed twice) */
  following: Set<string>;
}

export function checkLogSecrets(syntax: Syntax): Finding[] {
  const logging = syntax.source(LOGGING);
  if (!logging) return [finding(ID, LOGGING, 'the logging module is missing: what the server logs cannot be verified', 'restore src/server/logging.ts from the template')];
  return new LogSecrets(syntax, logging).run();
}

/** SRV021 for one source file (its scan unit): a Fastify server made there, outside src/server/app.ts, is wired as the app's. */
export function checkServerWiringIn(syntax: Syntax, file: string): Finding[] {
  if (appPath(syntax, file) === APP) return []; // checkLogSecrets reads the app's own
  const sf = syntax.file(file);
  return sf ? new LogSecrets(syntax, undefined).otherServers(sf) : [];
}

class LogSecrets {
  private readonly ts: typeof TS;
  private readonly out: Finding[] = [];
  /** Logger option literals judged by one part of the check (the others skip them). */
  private readonly judged = new Set<TS.Node>();
  /** The constants the redaction paths were read from (each checked for changes once). */
  private readonly pathConstants = new Map<TS.VariableDeclaration, TS.SourceFile>();
  /** The module functions loggerOptions names as its req and res serializers (accessLine calls them). */
  private readonly serializerNames = { req: new Set<string>(), res: new Set<string>() };
  /** accessLine's findings so far: a node inside one is not reported again. */
  private readonly flagged: TS.Node[] = [];

  constructor(
    private readonly syntax: Syntax,
    private readonly loggingSource: TS.SourceFile | undefined,
  ) {
    this.ts = syntax.ts;
  }

  /** src/server/logging.ts (a check of one file's servers, checkServerWiringIn, reads no other file) */
  private get logging(): TS.SourceFile {
    if (!this.loggingSource) throw new Error('SRV021: the logging module was not read');
    return this.loggingSource;
  }

  run(): Finding[] {
    this.wiring();
    this.loggerOptions();
    this.accessLines();
    this.accessLineCalls();
    this.childLoggers();
    this.routeSerializers();
    this.consoleWrites();
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

  /** Every identifier or string literal spelling `word`, with its source, in the sources mentioning it. */
  private *spellings(word: string): Generator<[TS.Identifier | TS.StringLiteralLike, TS.SourceFile]> {
    const { ts, syntax } = this;
    for (const sf of this.sourcesWith(word)) {
      for (const node of syntax.all(sf, (n): n is TS.Identifier | TS.StringLiteralLike => ts.isIdentifier(n) || ts.isStringLiteralLike(n))) {
        if (node.text === word) yield [node, sf];
      }
    }
  }

  // ---- wiring: src/server/app.ts builds Fastify with loggerOptions(...)

  private wiring(): void {
    const { syntax } = this;
    const app = syntax.source(APP);
    if (!app) return this.add(APP, "src/server/app.ts is missing: the server's logger cannot be verified", FIX_WIRING);
    const calls = this.factoryCalls(app, 'fastify');
    if (calls.length === 0) return this.add(APP, "no Fastify(...) call in src/server/app.ts: the server's logger cannot be verified", FIX_WIRING);
    for (const call of calls) this.serverOptions(call, app);
  }

  /**
   * A Fastify server made in this file (a second instance, say for metrics or an admin port) is wired
   * as the app's: its lines otherwise come from a logger this check never reads. Run per file, in the
   * file's scan unit (checkServerWiringIn): nearly every source imports fastify's types.
   */
  otherServers(sf: TS.SourceFile): Finding[] {
    for (const call of this.factoryCalls(sf, 'fastify')) this.serverOptions(call, sf);
    return this.out;
  }

  /** One Fastify(...) call's options: the logger from loggerOptions(...), requestLogger as its childLoggerFactory, no loggerInstance. */
  private serverOptions(call: TS.CallExpression, sf: TS.SourceFile): void {
    const { ts, syntax } = this;
    const options = call.arguments[0] && syntax.bare(call.arguments[0]);
    if (!options || !ts.isObjectLiteralExpression(options)) {
      return this.add(this.at(call), "the Fastify options are not a literal object: the server's logger cannot be verified", FIX_WIRING);
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
      const from = ts.isCallExpression(value) ? this.importOf(sf, syntax.bare(value.expression)) : undefined;
      if (from !== `${LOGGING}#loggerOptions`) {
        this.add(this.at(logger), `the server's logger is ${logger.getText()}, not loggerOptions(...) of src/server/logging.ts: its redaction and serializers cannot be verified`, FIX_WIRING);
      }
    }
    const instance = syntax.prop(options, 'loggerInstance');
    if (instance) this.add(this.at(instance), 'the Fastify options pass a loggerInstance: a logger made without loggerOptions, whose redaction cannot be verified', FIX_WIRING);
    const factory = syntax.prop(options, 'childLoggerFactory');
    if (factory && this.importOf(sf, syntax.bare(factory)) !== `${LOGGING}#requestLogger`) {
      this.add(this.at(factory), `childLoggerFactory is ${factory.getText()}, not requestLogger of src/server/logging.ts: the request loggers cannot be verified`, FIX_WIRING);
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

  /**
   * The calls in a source of a module's factory, `pino` or `fastify`: its default export (or the
   * export of the module's name) called by its local name, or as `.default` / `.<module>` of the
   * module or its namespace.
   */
  private factoryCalls(sf: TS.SourceFile, module: string): TS.CallExpression[] {
    const { ts, syntax } = this;
    const { locals, namespaces } = this.importedAs(sf, module, ['default', module]);
    if (locals.size === 0 && namespaces.size === 0) return [];
    return syntax.all(sf, ts.isCallExpression).filter((call) => {
      const callee = syntax.bare(call.expression);
      return (
        (ts.isIdentifier(callee) && locals.has(callee.text)) ||
        (ts.isPropertyAccessExpression(callee) && [module, 'default'].includes(callee.name.text) && ts.isIdentifier(callee.expression) && (locals.has(callee.expression.text) || namespaces.has(callee.expression.text)))
      );
    });
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
        return `${appPath(syntax, file)}#${(el.propertyName ?? el.name).text}`;
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
      if (name === 'req' || name === 'res') {
        if (name === 'req') this.requestSerializer(p);
        else this.replySerializer(p);
        const fn = this.serializerName(p);
        if (fn) this.serializerNames[name].add(fn);
      }
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
    const value = ts.isPropertyAssignment(p) ? syntax.bare(p.initializer) : undefined;
    if (value && (ts.isArrowFunction(value) || ts.isFunctionExpression(value))) return value;
    const name = this.serializerName(p);
    return name ? syntax.func(this.logging, name) : undefined;
  }

  /** The module function a serializer entry names (`req: serializeRequest`, or `req` for a function req). */
  private serializerName(p: TS.ObjectLiteralElementLike): string | undefined {
    const { ts, syntax } = this;
    const value = ts.isPropertyAssignment(p) ? syntax.bare(p.initializer) : ts.isShorthandPropertyAssignment(p) ? p.name : undefined;
    return value && ts.isIdentifier(value) && syntax.func(this.logging, value.text) ? value.text : undefined;
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

  // ---- the access line: RequestLogger.accessLine writes its JSON line to pino's stream itself

  /**
   * Each accessLine method of src/server/logging.ts: every call in it is the redacted logger's, a
   * serializer's, JSON.stringify of the verified fields, pino's time, or the write of that JSON after
   * pino's level, time and bindings to pino's stream, at once (`write`) or made when the stream's
   * batch is written (`writeLater` of a function returning it); its fields and the consts the line is
   * made of reach nothing else.
   */
  private accessLines(): void {
    const { ts, syntax } = this;
    for (const method of syntax.all(this.logging, ts.isMethodDeclaration)) {
      if (this.nameOf(method.name) !== 'accessLine' || !method.body) continue;
      const [fields, msg] = method.parameters.map((p) => (ts.isIdentifier(p.name) ? p.name.text : undefined));
      if (method.parameters.length !== 2 || !fields || !msg) {
        this.add(this.at(method), "accessLine's parameters are not (fields, msg): what it writes cannot be verified", FIX_LINE);
        continue;
      }
      const line = this.lineNames(method.body, fields, msg);
      this.fieldUses(method.body, line);
      const calls = syntax.all(method.body, (n): n is TS.CallExpression | TS.NewExpression | TS.TaggedTemplateExpression => ts.isCallExpression(n) || ts.isNewExpression(n) || ts.isTaggedTemplateExpression(n));
      for (const call of calls) this.accessLineStep(call, line);
      // the line's parts: used only where the steps above verified them
      for (const id of syntax.all(method.body, ts.isIdentifier)) {
        const part = this.linePart(id.text, line);
        if (!part || !this.isReference(id) || line.verified.has(id) || (ts.isVariableDeclaration(id.parent) && id.parent.name === id)) continue;
        this.flag(id, `the access line's ${part} (${id.text}) is used here (${this.outer(id).parent.getText()}): only its place in the line written to pino's stream is verified`);
      }
    }
  }

  /** What a const of accessLine holds for its line, if it holds a part of it. */
  private linePart(name: string, line: AccessLine): string | undefined {
    if (line.json.has(name)) return 'JSON';
    if (line.objects.has(name)) return 'fields object';
    if (line.heads.has(name)) return 'text';
    if (line.texts.has(name)) return 'function making its text';
    return undefined;
  }

  /**
   * accessLine's consts (each declared once) by what they hold: this.parent or a member of it (the
   * stream), a JSON.stringify(...), an object literal (the line's fields), text (a template or a
   * concatenation: pino's level, time and bindings) or an arrow function without parameters returning
   * text (the line, made later). A finding for a name hiding its parameters or a serializer.
   */
  private lineNames(body: TS.Block, fields: string, msg: string): AccessLine {
    const { ts, syntax } = this;
    const line: AccessLine = { fields, msg, aliases: new Map(), json: new Set(), objects: new Map(), heads: new Map(), texts: new Map(), verified: new Set(), following: new Set() };
    const decls = syntax.all(body, (n): n is TS.VariableDeclaration | TS.ParameterDeclaration | TS.BindingElement | TS.FunctionDeclaration => ts.isVariableDeclaration(n) || ts.isParameter(n) || ts.isBindingElement(n) || ts.isFunctionDeclaration(n));
    const names = decls.map((d) => (d.name && ts.isIdentifier(d.name) ? d.name.text : undefined));
    decls.forEach((d, i) => {
      const name = names[i];
      if (name === undefined) return;
      if (name === fields || name === msg || this.serializerNames.req.has(name) || this.serializerNames.res.has(name)) {
        return this.flag(d, `accessLine declares ${name} again: which value its unredacted line holds cannot be verified`);
      }
      const init = ts.isVariableDeclaration(d) && d.initializer && d.parent.flags & ts.NodeFlags.Const && names.indexOf(name) === names.lastIndexOf(name) ? syntax.bare(d.initializer) : undefined;
      if (!init) return;
      const member = this.parentMember(init, line);
      const body = this.lineFunctionBody(init);
      if (member !== undefined) line.aliases.set(name, member);
      else if (ts.isCallExpression(init) && squeezed(init.expression.getText()) === 'JSON.stringify') line.json.add(name);
      else if (ts.isObjectLiteralExpression(init)) line.objects.set(name, init);
      else if (body) line.texts.set(name, body);
      else if (ts.isTemplateExpression(init) || syntax.str(init) !== undefined || (ts.isBinaryExpression(init) && init.operatorToken.kind === ts.SyntaxKind.PlusToken)) line.heads.set(name, init);
    });
    return line;
  }

  /** accessLine's fields: .req and .res each the one argument of its serializer, .responseTime, or all of them for the redacted logger. */
  private fieldUses(body: TS.Block, line: AccessLine): void {
    const { ts, syntax } = this;
    for (const id of syntax.all(body, ts.isIdentifier)) {
      if (id.text !== line.fields || !this.isReference(id)) continue;
      const n = this.outer(id);
      const p = n.parent;
      if (ts.isCallExpression(p) && p.arguments.includes(n) && this.redactedLevelCall(p)) continue;
      const member = ts.isPropertyAccessExpression(p) && p.expression === n ? p.name.text : undefined;
      if (member === 'responseTime') continue;
      const arg = member === 'req' || member === 'res' ? this.outer(p as TS.PropertyAccessExpression) : undefined;
      const call = arg?.parent;
      if (member && call && ts.isCallExpression(call) && call.arguments.length === 1 && call.arguments[0] === arg) {
        const callee = syntax.bare(call.expression);
        const names = this.serializerNames[member as 'req' | 'res'];
        const what = member === 'req' ? 'the request' : 'the response';
        if (ts.isIdentifier(callee) && names.has(callee.text)) continue;
        if (names.size === 0) this.flag(call, `accessLine hands ${p.getText()} to ${callee.getText()}, but loggerOptions' ${member} serializer is not a function of src/server/logging.ts given by name: what its unredacted line says of ${what} cannot be tied to the verified serializer`, FIX_SERIALIZERS);
        else this.flag(call, `accessLine hands ${p.getText()} to ${callee.getText()}, not the ${member} serializer loggerOptions names (${[...names].join(', ')}): what its unredacted line says of ${what} cannot be verified`);
        continue;
      }
      let use: TS.Node = n;
      while ((ts.isPropertyAccessExpression(use.parent) || ts.isElementAccessExpression(use.parent)) && use.parent.expression === use) use = use.parent;
      const around = this.outer(use as TS.Expression).parent;
      const shown = ts.isTemplateSpan(around) || around.getText().length > 100 ? use : around;
      this.flag(id, `accessLine's ${line.fields} are used here (${shown.getText()}): its line skips the redaction, so it may only hand ${line.fields}.req and .res to their serializers, write .responseTime, or pass ${line.fields} whole to the redacted logger`);
    }
  }

  /** One call in accessLine: the redacted logger, a serializer, pino's level test and time, JSON.stringify, the JSON's slice, the line's function, the write. */
  private accessLineStep(node: TS.CallExpression | TS.NewExpression | TS.TaggedTemplateExpression, line: AccessLine): void {
    const { ts, syntax } = this;
    const callee = syntax.bare(ts.isTaggedTemplateExpression(node) ? node.tag : node.expression);
    if (ts.isCallExpression(node)) {
      const member = this.parentMember(callee, line);
      if (this.redactedLevelCall(node) || member === 'isLevelEnabled' || (member === '[pino.symbols.timeSym]' && node.arguments.length === 0) || this.jsonSlice(node, line)) return;
      if (ts.isIdentifier(callee) && (this.serializerNames.req.has(callee.text) || this.serializerNames.res.has(callee.text)) && node.arguments.length === 1 && ['req', 'res'].includes(this.memberOf(node.arguments[0]!, line.fields) ?? '')) return;
      if (squeezed(callee.getText()) === 'JSON.stringify') return this.accessJson(node, line);
      // the line's function, called where its text is written (its uses are verified as the line's parts)
      if (this.lineFunctionCall(node, line)) return;
      if (ts.isPropertyAccessExpression(callee) && (callee.name.text === 'write' || callee.name.text === 'writeLater')) return this.accessWrite(node, callee, line);
    }
    this.flag(node, `accessLine calls ${callee.getText()}: its line skips the redaction, so it may only stringify the verified fields and write them to pino's stream, anything else goes through the redacted this.info`);
  }

  /** JSON.stringify in accessLine: of one literal object (or a const of accessLine holding one) with only the request id, the serializers' output, the duration and the message. */
  private accessJson(call: TS.CallExpression, line: AccessLine): void {
    const { ts, syntax } = this;
    const [value, ...rest] = call.arguments;
    if (rest.length > 0) return this.flag(rest[0]!, `JSON.stringify in accessLine is also given ${rest.map((a) => a.getText()).join(', ')}: a replacer can put anything in the unredacted line, which cannot be verified`);
    const held = value && syntax.bare(value);
    const named = held && ts.isIdentifier(held) ? line.objects.get(held.text) : undefined;
    if (named) line.verified.add(held as TS.Identifier);
    const object = named ?? (value && this.literal(value));
    if (!object) return this.flag(call, `accessLine stringifies ${value?.getText() ?? 'nothing'}: not a literal object, what its unredacted line holds cannot be verified`);
    for (const p of object.properties) {
      const name = ts.isSpreadAssignment(p) ? undefined : p.name && this.nameOf(p.name);
      const v = ts.isPropertyAssignment(p) ? syntax.bare(p.initializer) : ts.isShorthandPropertyAssignment(p) ? p.name : undefined;
      const holds =
        (name === 'reqId' && v && squeezed(v.getText()) === 'this.bindings.reqId') ||
        ((name === 'req' || name === 'res') && v && ts.isCallExpression(v) && v.arguments.length === 1 && this.memberOf(v.arguments[0]!, line.fields) === name) ||
        (name === 'responseTime' && v && this.memberOf(v, line.fields) === 'responseTime') ||
        (name === 'msg' && v && ts.isIdentifier(v) && v.text === line.msg);
      if (!holds) this.flag(p, `the access line also holds ${p.getText()}: it skips the redaction, so it may hold only reqId: this.bindings.reqId, req and res from their serializers, responseTime: ${line.fields}.responseTime and msg`);
    }
  }

  /** The write: to pino's stream, one line (write) or one function of no arguments returning it (writeLater). */
  private accessWrite(call: TS.CallExpression, callee: TS.PropertyAccessExpression, line: AccessLine): void {
    const { ts, syntax } = this;
    const target = callee.expression;
    if (this.parentMember(target, line) !== '[pino.symbols.streamSym]') {
      this.flag(target, `accessLine writes to ${target.getText()}, not pino's stream (this.parent[pino.symbols.streamSym]): where its unredacted line goes cannot be verified`);
    }
    if (call.arguments.length !== 1) return this.flag(call, `accessLine writes ${call.arguments.length} arguments, not one line: what it writes cannot be verified`);
    const arg = syntax.bare(call.arguments[0]!);
    if (callee.name.text === 'write') return this.lineParts(arg, line);
    // writeLater: the line is made when the stream's batch is written
    if (ts.isIdentifier(arg) && line.texts.has(arg.text)) {
      line.verified.add(arg);
      return this.followPart(arg, line.texts.get(arg.text)!, line);
    }
    const body = this.lineFunctionBody(arg);
    if (body) return this.lineParts(body, line);
    this.flag(arg, `accessLine hands ${arg.getText()} to writeLater: not an arrow function of no arguments returning the line (or a const of accessLine holding one), what it writes cannot be verified`);
  }

  /** The parts of the written line: a template literal's substitutions, or a concatenation's terms. */
  private lineParts(node: TS.Expression, line: AccessLine): void {
    const { ts, syntax } = this;
    const n = syntax.bare(node);
    if (syntax.str(n) !== undefined) return;
    if (ts.isTemplateExpression(n)) return n.templateSpans.forEach((span) => this.lineParts(span.expression, line));
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      this.lineParts(n.left, line);
      return this.lineParts(n.right, line);
    }
    const member = this.parentMember(n, line) ?? '';
    if (member === '[pino.symbols.chindingsSym]' || (member.startsWith('levels.values.') && LEVELS.has(member.slice('levels.values.'.length)))) return;
    if (ts.isCallExpression(n) && n.arguments.length === 0 && this.parentMember(n.expression, line) === '[pino.symbols.timeSym]') return;
    const json = this.jsonLine(n, line);
    if (json) {
      if (ts.isIdentifier(json)) line.verified.add(json);
      return;
    }
    // text held in a const, or made by the line's function: verified where it is written
    const text = ts.isIdentifier(n) && line.heads.has(n.text) ? n : ts.isCallExpression(n) ? this.lineFunctionCall(n, line) : undefined;
    if (text) {
      line.verified.add(text);
      return this.followPart(text, (line.heads.get(text.text) ?? line.texts.get(text.text))!, line);
    }
    this.flag(n, `the access line writes ${n.getText()}: it skips the redaction, so it may write only pino's level, time and bindings and the JSON of the verified fields`);
  }

  /** `() => <expression>`, the shape of a function making the line: its expression. */
  private lineFunctionBody(node: TS.Expression): TS.Expression | undefined {
    const { ts } = this;
    return ts.isArrowFunction(node) && node.parameters.length === 0 && !ts.isBlock(node.body) ? node.body : undefined;
  }

  /** `text()`, text a const of accessLine holding a function making the line: its identifier. */
  private lineFunctionCall(call: TS.CallExpression, line: AccessLine): TS.Identifier | undefined {
    const { ts, syntax } = this;
    const callee = syntax.bare(call.expression);
    return call.arguments.length === 0 && ts.isIdentifier(callee) && line.texts.has(callee.text) ? callee : undefined;
  }

  /** The parts of a const's text (once per place it is written; a text that contains itself is a finding). */
  private followPart(id: TS.Identifier, value: TS.Expression, line: AccessLine): void {
    if (line.following.has(id.text)) return this.flag(id, `the access line's text ${id.text} is made of itself: what it writes cannot be verified`);
    line.following.add(id.text);
    try {
      this.lineParts(value, line);
    } finally {
      line.following.delete(id.text);
    }
  }

  /**
   * The JSON in the line: `line` or `line.slice(1)`, line a const of accessLine holding a
   * JSON.stringify(...) (its identifier), or `JSON.stringify(...)` / `JSON.stringify(...).slice(1)`
   * in place (the call; what it stringifies is verified as every JSON.stringify of accessLine is).
   */
  private jsonLine(node: TS.Expression, line: AccessLine): TS.Identifier | TS.CallExpression | undefined {
    const { ts, syntax } = this;
    let n = syntax.bare(node);
    if (ts.isCallExpression(n) && n.arguments.length === 1 && syntax.num(n.arguments[0]) === 1 && ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === 'slice') n = syntax.bare(n.expression.expression);
    if (ts.isCallExpression(n) && squeezed(n.expression.getText()) === 'JSON.stringify') return n;
    return ts.isIdentifier(n) && line.json.has(n.text) ? n : undefined;
  }

  /** `X.slice(1)`, X the JSON (jsonLine): the JSON without its opening brace, written after pino's fields. */
  private jsonSlice(call: TS.CallExpression, line: AccessLine): boolean {
    const { ts } = this;
    return ts.isPropertyAccessExpression(call.expression) && call.expression.name.text === 'slice' && this.jsonLine(call, line) !== undefined;
  }

  /** `<parent>.a[b]` -> 'a[b]' (casts and parentheses skipped), parent being this.parent or a const of accessLine holding it (or a member of it). */
  private parentMember(node: TS.Expression, line: AccessLine): string | undefined {
    const { ts, syntax } = this;
    let path = '';
    for (let n = syntax.bare(node); ; n = syntax.bare(n.expression)) {
      if (this.isThisParent(n)) return path.replace(/^\./, '');
      if (ts.isIdentifier(n) && line.aliases.has(n.text)) return `${line.aliases.get(n.text)}${path}`.replace(/^\./, '');
      if (ts.isPropertyAccessExpression(n)) path = `.${n.name.text}${path}`;
      else if (ts.isElementAccessExpression(n)) path = `[${squeezed(n.argumentExpression.getText())}]${path}`;
      else return undefined;
    }
  }

  private isThisParent(n: TS.Expression): boolean {
    const { ts } = this;
    return ts.isPropertyAccessExpression(n) && n.name.text === 'parent' && n.expression.kind === ts.SyntaxKind.ThisKeyword;
  }

  /** An accessLine finding, unless it overlaps one made already (one weakening, one finding). */
  private flag(node: TS.Node, message: string, fix = FIX_LINE): void {
    if (this.flagged.some((f) => node.getStart() < f.end && f.getStart() < node.end)) return;
    this.flagged.push(node);
    this.add(this.at(node), message, fix);
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
    const { ts } = this;
    for (const [node, sf] of this.spellings('accessLine')) {
      const p = node.parent;
      if (ts.isIdentifier(node)) {
        // the method itself (verified in src/server/logging.ts only), or its declaration in a type
        if (ts.isMethodDeclaration(p) && p.name === node && sf !== this.logging) this.add(this.at(node), 'an accessLine method outside src/server/logging.ts: what it writes without the redaction is not verified', FIX_LINE);
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

  /**
   * A route's own serializers (Fastify's `logSerializers` route option) replace the server's for its
   * lines, so a route could log the full URL (its query string carries reset and invitation tokens)
   * or the headers: none may be set.
   */
  private routeSerializers(): void {
    const { ts } = this;
    for (const [node] of this.spellings('logSerializers')) {
      const p = node.parent;
      // set in route options ({ logSerializers: ... }), or assigned to a route's options later (reading them is harmless)
      const named = (ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p) || ts.isMethodDeclaration(p)) && p.name === node;
      const assigned = ((ts.isPropertyAccessExpression(p) && p.name === node) || (ts.isElementAccessExpression(p) && p.argumentExpression === node)) && this.written(p);
      if (named || assigned) this.add(this.at(node), `a route sets logSerializers (${this.outer(node as TS.Expression).parent.getText().slice(0, 80)}): they replace the server's serializers for its lines, which could then log the URL's query string or headers`, FIX_ROUTE_SERIALIZERS);
    }
  }

  /**
   * The server's code writes no line of its own past the logger: `console` and process.stdout /
   * stderr print whatever they are given (a request's headers, a body with its password)
   * unredacted, to the same output the log goes to. Any use of them under src/ outside
   * PRINTING_FILES is a finding, whatever it prints: what a value holds cannot be read statically.
   */
  private consoleWrites(): void {
    const { ts } = this;
    // node:console is the module console comes from (its log, or a Console of one's own)
    for (const word of ['console', 'node:console', 'stdout', 'stderr']) {
      for (const [node, sf] of this.spellings(word)) {
        if (PRINTING_FILES.has(appPath(this.syntax, sf.fileName))) continue;
        // shown as the expression it starts: console.log(...), process.stdout.write(...)
        let use: TS.Node = node;
        while (ts.isPropertyAccessExpression(use.parent) || ts.isElementAccessExpression(use.parent) || (ts.isCallExpression(use.parent) && use.parent.expression === use)) use = use.parent;
        this.add(this.at(node), `${word.endsWith('console') ? word : `process.${word}`} is used in the server's code (${use.getText().replace(/\s+/g, ' ').slice(0, 80)}): it writes past the logger's redaction, so a request's headers, body or tokens reach the log as they are`, FIX_CONSOLE);
      }
    }
  }

  /** A child logger inherits the server's redaction and serializers unless its options set their own. */
  private childLoggers(): void {
    const { ts, syntax } = this;
    for (const sf of this.sourcesWith('child')) {
      for (const call of syntax.all(sf, ts.isCallExpression)) {
        const callee = syntax.bare(call.expression);
        if (!ts.isPropertyAccessExpression(callee) || callee.name.text !== 'child' || call.arguments.length < 2) continue;
        const options = syntax.bare(call.arguments[1]!);
        if (ts.isObjectLiteralExpression(options)) {
          this.judged.add(options);
          for (const p of options.properties) {
            const name = ts.isSpreadAssignment(p) ? undefined : p.name && this.nameOf(p.name);
            if (name && CHILD_OPTIONS.has(name)) continue;
            if (ts.isSpreadAssignment(p) && this.passedThrough(syntax.bare(p.expression), call)) continue; // { ...options, level }
            const what = name === 'redact' ? "a redaction of its own: it replaces the server's, so its lines can hold cookies, passwords and tokens" : name === 'serializers' ? 'serializers of its own: they replace the verified req and res serializers' : `${p.getText()}, which cannot be verified: it could drop the server's redaction or serializers`;
            this.add(this.at(p), `a child logger made with ${what}`, FIX_CHILD);
          }
        } else if (!this.passedThrough(options, call)) {
          this.add(this.at(call), `a child logger made with options ${options.getText()}: not a literal nor the caller's options, they could drop the redaction`, FIX_CHILD);
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
    const { syntax } = this;
    for (const sf of this.sourcesWith('pino')) {
      for (const call of this.factoryCalls(sf, 'pino')) {
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
        this.add(this.at(p), `logger options with a redaction of their own (${p.getText()}): only loggerOptions' redaction is verified, and every logger must keep it`, FIX_CHILD);
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
