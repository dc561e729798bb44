/**
 * SRV011 and SRV012 of `xms check` (invariants I2, I9), one scan of every source file of the app
 * (src/ and a web/, ui/, client/ or frontend/ folder; .ts, .tsx, .js, .jsx):
 *   - SRV011: outside src/db/, no code switches the database role or identity (set role,
 *     set session authorization, set_config), imports a database driver or opens a raw handle;
 *   - SRV012: no token or session is stored in localStorage / sessionStorage.
 */
import { join } from 'node:path';
import { finding, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';

/** The files the scan reads (absolute paths): each is judged alone, so its findings are cached per file. */
export function sourceScanFiles(syntax: Syntax): string[] {
  const files = listSources(syntax, join(syntax.appDir, 'src'));
  for (const dir of ['web', 'ui', 'client', 'frontend']) files.push(...listSources(syntax, join(syntax.appDir, dir)));
  return files;
}

export function checkSourceScan(syntax: Syntax, files = sourceScanFiles(syntax)): Finding[] {
  const out: Finding[] = [];
  const add = (id: string, object: string, message: string, fix: string) => out.push(finding(id, object, message, fix));
  const dbDir = join(syntax.appDir, 'src', 'db');
  for (const file of files) {
    const sf = syntax.file(file);
    if (!sf) continue;
    const ts = syntax.ts;
    const inDb = file.startsWith(dbDir + '/') || file.startsWith(dbDir + '\\');
    syntax.walk(sf, (n) => {
      if (!inDb) {
        const s = syntax.str(n) ?? (ts.isTemplateExpression(n) ? n.getText() : undefined);
        if (s !== undefined && /(^|;)\s*set\s+(local\s+|session\s+)?role\b|\breset\s+role\b|\bset\s+session\s+authorization\b|\bset_config\s*\(/i.test(s)) {
          add('SRV011-privileged-db-access', syntax.at(n), 'switches the database role or identity outside src/db/ (only the request-scoped API of src/db/request.ts may)',
            'use request.withDb(...) (src/db/request.ts sets the role and identity per transaction)');
        }
        if (ts.isImportDeclaration(n) && !n.importClause?.isTypeOnly) {
          const spec = syntax.str(n.moduleSpecifier);
          if (spec === 'pg' || spec === '@electric-sql/pglite' || spec === 'postgres' || spec === 'pg-pool') {
            add('SRV011-privileged-db-access', syntax.at(n), `imports the database driver ${spec} outside src/db/ (a raw connection bypasses the request role)`,
              'use the request-scoped API (request.withDb) instead of a raw pool or client');
          }
        }
        if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && ['Pool', 'Client', 'PGlite'].includes(n.expression.text)) {
          add('SRV011-privileged-db-access', syntax.at(n), `new ${n.expression.text}(...) outside src/db/: a raw database handle`, 'use the request-scoped API (request.withDb)');
        }
      }
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === 'setItem') {
        const target = n.expression.expression.getText();
        if (/localStorage|sessionStorage/.test(target) && /token|session|jwt|auth/i.test(n.arguments.map((a) => a.getText()).join(' '))) {
          add('SRV012-token-in-browser-storage', syntax.at(n), 'stores a token or session in web storage (readable by any script: XSS steals it)',
            'keep the session only in the __Host- httpOnly cookie');
        }
      }
    });
  }
  return out;
}

function listSources(syntax: Syntax, dir: string, out: string[] = []): string[] {
  for (const entry of syntax.list(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const p = join(dir, entry);
    if (syntax.isDirectory(p)) listSources(syntax, p, out);
    else if (/\.(m?ts|tsx|m?js|jsx)$/.test(entry) && !/\.d\.ts$/.test(entry)) out.push(p);
  }
  return out;
}
