/**
 * A small syntax-tree toolkit for the source checks of `xms check`: the app's TypeScript is parsed
 * with the compiler API (no type-checking, no execution) and read through these helpers. `evaluate`
 * folds the few constant expressions the checks need (literals, `===`, `!`, `&&`, `||`, `a * b`, `c ? a : b`,
 * Number(x), a regex literal's .test(x), an array literal's .includes(x)) with some identifiers bound to values.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type * as TS from 'typescript';
import { MissingModuleError, resolveFrom } from './database.js';
import { loadTypeScript } from './typescript-code.js';
import type { Finding } from './types.js';

/** What `evaluate` returns when an expression is not a constant it can fold. */
export const UNKNOWN = Symbol('unknown');
export type Value = string | number | boolean | undefined | null | typeof UNKNOWN;

export type FunctionLike = TS.FunctionDeclaration | TS.ArrowFunction | TS.FunctionExpression;

/**
 * What a unit of the source checks read, each input by its path relative to the app: `f:path` the
 * file's content (its SHA-256; `-` when it is not a file, `d` for a folder), `e:path` what the path
 * is (`f` file, `d` folder, `-` nothing else), `d:path` a folder's entries (names and kinds),
 * `w:word` which TypeScript files under src/ contain the word (./Syntax.sourcesMentioning). ./server/units.ts caches a unit's findings under these and reuses them
 * only while every input reads the same.
 */
export type Inputs = Map<string, string>;

/**
 * The current value of one input (the same function records and revalidates it). `scan` shares the
 * reading of src/ between the `w:` inputs of one check.
 */
export function inputValue(appDir: string, input: string, scan: SourceScan = new SourceScan(appDir)): string {
  const rest = input.slice(2);
  switch (input.slice(0, 2)) {
    case 'f:': return contentValue(join(appDir, rest)).value;
    case 'e:': return kindOf(join(appDir, rest));
    case 'd:': return listing(join(appDir, rest)).value;
    case 'w:': return createHash('sha256').update(scan.mentioning(rest).join('\0')).digest('hex');
  }
  throw new Error(`unknown input ${input}`);
}

function kindOf(abs: string): string {
  try {
    const st = statSync(abs);
    return st.isFile() ? 'f' : st.isDirectory() ? 'd' : '-';
  } catch {
    return '-';
  }
}

/**
 * The app's TypeScript sources under src/, read once per check however many words are looked up in
 * them (a walk and read of src/ per word costs a few milliseconds each, on every check).
 */
export class SourceScan {
  private sources: Array<{ rel: string; text: string }> | undefined;

  constructor(private readonly appDir: string) {}

  /** The sources (relative paths, sorted) whose text contains `word`. */
  mentioning(word: string): string[] {
    this.sources ??= readSources(this.appDir);
    return this.sources.filter((s) => s.text.includes(word)).map((s) => s.rel);
  }
}

function readSources(appDir: string): Array<{ rel: string; text: string }> {
  const out: Array<{ rel: string; text: string }> = [];
  const visit = (dir: string) => {
    for (const entry of listing(dir).names.sort()) {
      if (entry === 'node_modules' || entry.startsWith('.')) continue;
      const p = join(dir, entry);
      const kind = kindOf(p);
      if (kind === 'd') visit(p);
      else if (kind === 'f' && /\.m?ts$/.test(entry) && !entry.endsWith('.d.ts')) out.push({ rel: relative(appDir, p).split(sep).join('/'), text: readFileSync(p, 'utf8') });
    }
  };
  visit(join(appDir, 'src'));
  return out;
}

function listing(dir: string): { value: string; names: string[] } {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return { value: '-', names: [] };
  }
  const h = createHash('sha256');
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) h.update(`${e.isDirectory() ? 'd' : e.isFile() ? 'f' : 'o'}\0${e.name}\0`);
  return { value: h.digest('hex'), names: entries.map((e) => e.name) };
}

function contentValue(abs: string): { value: string; text?: string } {
  let st;
  try {
    st = statSync(abs);
  } catch {
    return { value: '-' };
  }
  if (st.isDirectory()) return { value: 'd' };
  if (!st.isFile()) return { value: '-' };
  const text = readFileSync(abs, 'utf8');
  return { value: createHash('sha256').update(text).digest('hex'), text };
}

/** Where ./Syntax.persisted keeps values between checks (./server/units.ts). */
export interface PersistedStore {
  /** The value stored under the id while every input it was computed from reads the same. */
  lookup(id: string): { value: unknown; inputs: Array<[string, string]> } | undefined;
  save(id: string, inputs: Inputs, value: unknown): void;
}

export class Syntax {
  private readonly cache = new Map<string, TS.SourceFile | undefined>();
  private readonly texts = new Map<string, { value: string; text?: string }>();
  private readonly memos = new Map<string, { value: unknown; inputs: Inputs }>();
  private loaded: typeof TS | undefined;
  private scan: SourceScan | undefined;
  /** The inputs of the unit running now (./server/units.ts), recorded by every read below. */
  private recording: Inputs | undefined;
  /** Values kept between checks, each under the inputs it was computed from. */
  store: PersistedStore | undefined;

  private constructor(
    private readonly loadTs: () => typeof TS,
    readonly appDir: string,
  ) {}

  /**
   * TypeScript is loaded on first use only: a check whose every unit is answered by the cache never
   * pays for it (a 9 MB module, a third of a second of CPU).
   */
  get ts(): typeof TS {
    return (this.loaded ??= this.loadTs());
  }

  /** Whether TypeScript was loaded (a check answered by the cache does not). */
  get typescriptLoaded(): boolean {
    return this.loaded !== undefined;
  }

  static async load(appDir: string): Promise<Syntax> {
    let syntax: Syntax | undefined = undefined;
    syntax = new Syntax(() => {
      // TypeScript is CommonJS: run as such, not imported (import() first runs Node's export scan and
      // module-format detection over its 9 MB file, a second of CPU), with V8's code cache
      const resolved = resolveFrom('typescript', appDir);
      if (!resolved) throw new MissingModuleError('typescript');
      const loaded = loadTypeScript(resolved, appDir);
      syntax!.keepCode = loaded.keep;
      return loaded.ts;
    }, appDir);
    return syntax;
  }

  /** Keeps TypeScript's compiled code for the next check (./typescript-code.ts), once it has parsed. */
  keepCode: () => void = () => {};

  /** Runs a unit of checks, recording every input it reads. */
  track<T>(run: () => T): { value: T; inputs: Inputs } {
    const outer = this.recording;
    const inputs: Inputs = new Map();
    this.recording = inputs;
    try {
      return { value: run(), inputs };
    } finally {
      this.recording = outer;
      if (outer) for (const [k, v] of inputs) outer.set(k, v);
    }
  }

  /**
   * A value derived from the sources, computed once and shared by the units; each unit using it
   * records the inputs it was computed from (a shared value must not hide an input of a unit).
   */
  memo<T>(key: string, compute: () => T): T {
    let hit = this.memos.get(key);
    if (!hit) {
      const { value, inputs } = this.track(compute);
      hit = { value, inputs };
      this.memos.set(key, hit);
    } else if (this.recording) {
      for (const [k, v] of hit.inputs) this.recording.set(k, v);
    }
    return hit.value as T;
  }

  /**
   * A value (JSON data) kept between checks under the inputs its computation read: returned from the
   * store while they all read the same, else computed (and stored). Either way the unit asking
   * records those inputs as its own.
   */
  persisted<T>(id: string, compute: () => T): T {
    const hit = this.store?.lookup(id);
    if (hit) {
      if (this.recording) for (const [k, v] of hit.inputs) this.recording.set(k, v);
      return hit.value as T;
    }
    const { value, inputs } = this.track(compute);
    this.store?.save(id, inputs, value);
    return value;
  }

  private note(input: string, value: string): void {
    this.recording?.set(input, value);
  }

  private relInput(abs: string): string {
    return relative(this.appDir, abs).split(sep).join('/');
  }

  /** A file's text (an absolute path), undefined when it is not a file; recorded as an input. */
  read(file: string): string | undefined {
    let got = this.texts.get(file);
    if (!got) this.texts.set(file, (got = contentValue(file)));
    this.note(`f:${this.relInput(file)}`, got.value);
    return got.text;
  }

  /** Whether a path is a file or a folder; recorded as an input. */
  exists(file: string): boolean {
    return this.kind(file) !== '-';
  }

  /** Whether a path is a folder; recorded as an input. */
  isDirectory(file: string): boolean {
    return this.kind(file) === 'd';
  }

  private kind(file: string): string {
    const kind = kindOf(file);
    this.note(`e:${this.relInput(file)}`, kind);
    return kind;
  }

  /** A folder's entry names (none when it is not one); recorded as an input. */
  list(dir: string): string[] {
    const { value, names } = listing(dir);
    this.note(`d:${this.relInput(dir)}`, value);
    return names;
  }

  /** The parsed file (a path relative to the app), or undefined when it does not exist. */
  source(path: string): TS.SourceFile | undefined {
    return this.parse(join(this.appDir, path), this.ts.ScriptKind.TS);
  }

  /**
   * The parsed file (an absolute path), parsed once per kind for every check family sharing this
   * instance (every module of ./server/).
   */
  parse(file: string, kind: TS.ScriptKind): TS.SourceFile | undefined {
    const key = `${kind}:${file}`;
    const text = this.read(file);
    if (!this.cache.has(key)) {
      this.cache.set(key, text !== undefined ? this.ts.createSourceFile(file, text, this.ts.ScriptTarget.Latest, true, kind) : undefined);
    }
    return this.cache.get(key);
  }

  /** The parsed file (an absolute path), as TSX when its extension says so. */
  file(file: string): TS.SourceFile | undefined {
    return this.parse(file, /\.[jt]sx$/.test(file) ? this.ts.ScriptKind.TSX : this.ts.ScriptKind.TS);
  }

  /** An absolute path relative to the app. */
  rel(file: string): string {
    return relative(this.appDir, file);
  }

  /** The text of a string literal (or a template without substitutions). */
  str(node: TS.Node | undefined): string | undefined {
    if (!node) return undefined;
    if (this.ts.isStringLiteral(node) || this.ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
    return undefined;
  }

  /** A number written as literals (`60 * 60 * 1000`, parentheses, + and -); no identifiers. */
  num(node: TS.Node | undefined): number | undefined {
    const ts = this.ts;
    if (!node) return undefined;
    if (ts.isNumericLiteral(node)) return Number(node.text.replace(/_/g, ''));
    if (ts.isParenthesizedExpression(node)) return this.num(node.expression);
    if (ts.isBinaryExpression(node)) {
      const a = this.num(node.left);
      const b = this.num(node.right);
      if (a === undefined || b === undefined) return undefined;
      if (node.operatorToken.kind === ts.SyntaxKind.AsteriskToken) return a * b;
      if (node.operatorToken.kind === ts.SyntaxKind.PlusToken) return a + b;
      if (node.operatorToken.kind === ts.SyntaxKind.MinusToken) return a - b;
    }
    return undefined;
  }

  propName(name: TS.PropertyName): string | undefined {
    if (this.ts.isIdentifier(name) || this.ts.isStringLiteral(name) || this.ts.isNumericLiteral(name)) return name.text;
    return undefined;
  }

  /** import name -> absolute .ts file (relative imports only). */
  imports(sf: TS.SourceFile): Map<string, string> {
    const map = new Map<string, string>();
    for (const st of sf.statements) {
      if (!this.ts.isImportDeclaration(st) || !st.importClause) continue;
      const spec = this.str(st.moduleSpecifier);
      if (!spec || !spec.startsWith('.')) continue;
      const file = resolve(dirname(sf.fileName), spec).replace(/\.js$/, '.ts');
      const target = this.exists(file) ? file : this.exists(`${file}.ts`) ? `${file}.ts` : join(file, 'index.ts');
      const named = st.importClause.namedBindings;
      if (named && this.ts.isNamedImports(named)) for (const el of named.elements) map.set(el.name.text, target);
      if (st.importClause.name) map.set(st.importClause.name.text, target);
    }
    return map;
  }

  /** The reading of src/ this check shares between its word lookups (./server/units.ts included). */
  sourceScan(): SourceScan {
    return (this.scan ??= new SourceScan(this.appDir));
  }

  /**
   * The app's TypeScript sources under src/ (relative paths) whose text contains `word`; recorded as
   * that list (a unit reading the files found records their content when it parses them).
   */
  sourcesMentioning(word: string): string[] {
    const found = this.sourceScan().mentioning(word);
    this.note(`w:${word}`, createHash('sha256').update(found.join('\0')).digest('hex'));
    return found;
  }

  /** The top-level statement (function, const, class) a node belongs to. */
  topLevel(node: TS.Node): TS.Node {
    let n = node;
    while (n.parent && !this.ts.isSourceFile(n.parent)) n = n.parent;
    return n;
  }

  /** file:line of a node, relative to the app. */
  at(node: TS.Node): string {
    const sf = node.getSourceFile();
    return `${relative(this.appDir, sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  }

  walk(node: TS.Node, visit: (n: TS.Node) => void): void {
    visit(node);
    node.forEachChild((c) => this.walk(c, visit));
  }

  /** Every node of a kind under `node`. */
  all<T extends TS.Node>(node: TS.Node, is: (n: TS.Node) => n is T): T[] {
    const out: T[] = [];
    this.walk(node, (n) => {
      if (is(n)) out.push(n);
    });
    return out;
  }

  /** Strips parentheses, `as` / `satisfies` casts and non-null assertions. */
  bare(node: TS.Expression): TS.Expression {
    const ts = this.ts;
    let n = node;
    while (ts.isParenthesizedExpression(n) || ts.isAsExpression(n) || ts.isSatisfiesExpression(n) || ts.isNonNullExpression(n) || ts.isTypeAssertionExpression(n)) n = n.expression;
    return n;
  }

  prop(obj: TS.ObjectLiteralExpression, name: string): TS.Expression | undefined {
    for (const p of obj.properties) {
      if (this.ts.isPropertyAssignment(p) && this.propName(p.name) === name) return p.initializer;
      if (this.ts.isShorthandPropertyAssignment(p) && p.name.text === name) return p.name;
    }
    return undefined;
  }

  /** The name a call is made through: f(...) -> f, a.b.f(...) -> f. */
  calleeName(call: TS.CallExpression): string | undefined {
    const e = this.bare(call.expression);
    if (this.ts.isIdentifier(e)) return e.text;
    if (this.ts.isPropertyAccessExpression(e)) return e.name.text;
    return undefined;
  }

  /** The top-level `const NAME = ...` initializer of a file. */
  constant(sf: TS.SourceFile, name: string): TS.VariableDeclaration | undefined {
    for (const st of sf.statements) {
      if (!this.ts.isVariableStatement(st)) continue;
      for (const d of st.declarationList.declarations) if (this.ts.isIdentifier(d.name) && d.name.text === name) return d;
    }
    return undefined;
  }

  /** A function of the file by name: `function f` or `const f = (...) => ...`. */
  func(sf: TS.SourceFile, name: string): FunctionLike | undefined {
    for (const st of sf.statements) {
      if (this.ts.isFunctionDeclaration(st) && st.name?.text === name) return st;
    }
    const init = this.constant(sf, name)?.initializer;
    const bare = init && this.bare(init);
    return bare && (this.ts.isArrowFunction(bare) || this.ts.isFunctionExpression(bare)) ? bare : undefined;
  }

  /** Identifiers bound to the file's top-level constants that fold to a value. */
  constants(sf: TS.SourceFile): Map<string, Value> {
    const out = new Map<string, Value>();
    for (const st of sf.statements) {
      if (!this.ts.isVariableStatement(st)) continue;
      for (const d of st.declarationList.declarations) {
        if (this.ts.isIdentifier(d.name) && d.initializer) out.set(d.name.text, this.evaluate(d.initializer, out));
      }
    }
    return out;
  }

  /** Folds a constant expression; UNKNOWN when it is not one. */
  evaluate(node: TS.Expression, bindings: Map<string, Value> = new Map()): Value {
    const ts = this.ts;
    const n = this.bare(node);
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return n.text;
    if (ts.isNumericLiteral(n)) return Number(n.text.replace(/_/g, ''));
    if (n.kind === ts.SyntaxKind.TrueKeyword) return true;
    if (n.kind === ts.SyntaxKind.FalseKeyword) return false;
    if (n.kind === ts.SyntaxKind.NullKeyword) return null;
    if (ts.isIdentifier(n)) {
      if (bindings.has(n.text)) return bindings.get(n.text)!;
      return n.text === 'undefined' ? undefined : UNKNOWN;
    }
    // env.X / process.env.X: bound by their text
    if ((ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n)) && bindings.has(n.getText())) return bindings.get(n.getText())!;
    if (ts.isTemplateExpression(n)) {
      let text = n.head.text;
      for (const span of n.templateSpans) {
        const v = this.evaluate(span.expression, bindings);
        if (v === UNKNOWN) return UNKNOWN;
        text += String(v) + span.literal.text;
      }
      return text;
    }
    if (ts.isConditionalExpression(n)) {
      const c = this.evaluate(n.condition, bindings);
      return c === UNKNOWN ? UNKNOWN : this.evaluate(c ? n.whenTrue : n.whenFalse, bindings);
    }
    if (ts.isPrefixUnaryExpression(n)) {
      const v = this.evaluate(n.operand, bindings);
      if (v === UNKNOWN) return UNKNOWN;
      if (n.operator === ts.SyntaxKind.ExclamationToken) return !v;
      if (n.operator === ts.SyntaxKind.MinusToken && typeof v === 'number') return -v;
      return UNKNOWN;
    }
    if (ts.isBinaryExpression(n)) {
      const op = n.operatorToken.kind;
      const a = this.evaluate(n.left, bindings);
      if (op === ts.SyntaxKind.AmpersandAmpersandToken) return a === UNKNOWN ? UNKNOWN : !a ? a : this.evaluate(n.right, bindings);
      if (op === ts.SyntaxKind.BarBarToken) return a === UNKNOWN ? UNKNOWN : a ? a : this.evaluate(n.right, bindings);
      if (op === ts.SyntaxKind.QuestionQuestionToken) return a === UNKNOWN ? UNKNOWN : a ?? this.evaluate(n.right, bindings);
      const b = this.evaluate(n.right, bindings);
      if (a === UNKNOWN || b === UNKNOWN) return UNKNOWN;
      switch (op) {
        case ts.SyntaxKind.EqualsEqualsEqualsToken: return a === b;
        case ts.SyntaxKind.ExclamationEqualsEqualsToken: return a !== b;
        case ts.SyntaxKind.EqualsEqualsToken: return a == b; // loose, as the source wrote it
        case ts.SyntaxKind.ExclamationEqualsToken: return a != b;
      }
      if (typeof a !== 'number' || typeof b !== 'number') return UNKNOWN;
      switch (op) {
        case ts.SyntaxKind.AsteriskToken: return a * b;
        case ts.SyntaxKind.PlusToken: return a + b;
        case ts.SyntaxKind.MinusToken: return a - b;
        case ts.SyntaxKind.SlashToken: return a / b;
        case ts.SyntaxKind.LessThanToken: return a < b;
        case ts.SyntaxKind.LessThanEqualsToken: return a <= b;
        case ts.SyntaxKind.GreaterThanToken: return a > b;
        case ts.SyntaxKind.GreaterThanEqualsToken: return a >= b;
      }
      return UNKNOWN;
    }
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && ['Number', 'String', 'Boolean'].includes(n.expression.text) && n.arguments.length === 1) {
      const v = this.evaluate(n.arguments[0]!, bindings);
      return v === UNKNOWN ? UNKNOWN : n.expression.text === 'Number' ? Number(v) : n.expression.text === 'String' ? String(v) : Boolean(v);
    }
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.arguments.length === 1) {
      const target = this.bare(n.expression.expression);
      const arg = this.evaluate(n.arguments[0]!, bindings);
      if (arg === UNKNOWN) return UNKNOWN;
      const method = n.expression.name.text;
      if (method === 'test' && ts.isRegularExpressionLiteral(target)) {
        const m = /^\/(.*)\/([a-z]*)$/s.exec(target.text);
        return m ? new RegExp(m[1]!, m[2]!.replace(/[gy]/g, '')).test(String(arg)) : UNKNOWN;
      }
      if (method === 'includes' && ts.isArrayLiteralExpression(target)) {
        const items = target.elements.map((e) => this.evaluate(e, bindings));
        return items.includes(UNKNOWN) ? UNKNOWN : items.includes(arg);
      }
    }
    return UNKNOWN;
  }
}

/** A finding builder for one check id. */
/** Code text without its white space, to compare an expression with the one a check expects. */
export function squeezed(text: string): string {
  return text.replace(/\s+/g, '');
}

export function finding(id: string, object: string, message: string, fix: string, severity: Finding['severity'] = 'error'): Finding {
  return { id, severity, object, message, fix };
}
