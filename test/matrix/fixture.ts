/** Shared by the matrix and db suites: a throw-away app folder with the base migrations. */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Handlebars from 'handlebars';

export const BASE = join(process.cwd(), 'templates', 'app', 'base');
export const BASE_MIGRATIONS = join(BASE, 'supabase', 'migrations');
/** The migrations this area owns (the base schema); other areas' migrations are layered by features. */
export const CORE_MIGRATIONS = ['20240101000000_xms_base.sql', '20240101000100_xms_tables.sql'];

export const MATRIX = `version: 1
roles:
  admin: Administrators
  member: Members
tables:
  tenants:
    admin: { select: tenant, update: tenant }
    member: { select: tenant }
  users:
    admin: { select: tenant }
    member: { select: tenant, update: own }
  memberships:
    admin: tenant
    member: { select: tenant }
  records:
    admin: tenant
    member: { select: tenant, insert: own, update: own, delete: own }
  audit_log:
    admin: { select: tenant }
`;

/** The shipped permissions.yml, rendered as the engine does (features off unless given). */
export function shippedMatrix(features: Record<string, boolean> = {}): string {
  const hbs = join(BASE, 'permissions.yml.hbs');
  let src: string;
  try {
    src = readFileSync(hbs, 'utf8');
  } catch {
    return readFileSync(join(BASE, 'permissions.yml'), 'utf8');
  }
  const h = Handlebars.create();
  h.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  return h.compile(src, { noEscape: true })({ name: 'app', features, db: 'pglite' });
}

export interface TempApp {
  dir: string;
  migrations: string;
  write(file: string, contents: string): void;
  read(file: string): string;
  list(): string[];
  remove(): void;
}

export function tempApp(matrix = MATRIX, migrations = CORE_MIGRATIONS): TempApp {
  const dir = mkdtempSync(join(tmpdir(), 'xms-matrix-'));
  const mdir = join(dir, 'supabase', 'migrations');
  mkdirSync(mdir, { recursive: true });
  for (const m of migrations) copyFileSync(join(BASE_MIGRATIONS, m), join(mdir, m));
  writeFileSync(join(dir, 'permissions.yml'), matrix);
  return {
    dir,
    migrations: mdir,
    write: (file, contents) => writeFileSync(join(dir, file), contents),
    read: (file) => readFileSync(join(dir, file), 'utf8'),
    list: () => readdirSync(mdir).sort(),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
