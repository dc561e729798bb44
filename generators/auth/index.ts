import { UserError } from '../../lib/engine/errors.js';
import { readProjectFile } from '../../lib/engine/changes.js';
import { appTemplateFile, forkOf } from '../kit/templates.js';
import type { Answers, FeatureGenerator, FileChange, Plan } from '../types.js';
import { assertApp } from '../kit/app.js';
import { appVersion } from '../../lib/app/index.js';

/**
 * The accounts, sessions and rate-limit files of the base app (the HTTP issue's auth subsystem), as
 * the built-in templates have them. `xms add auth` restores the missing ones into an app scaffolded
 * (or forked) without them; identical files are left alone; a file present with other content is a
 * refusal (merging security code by guesswork would be worse than stopping).
 */
export const AUTH_FILES = [
  // accounts, e-mail verification and recovery, log-in with its second factors, sessions, tenants
  'src/auth/accounts.ts',
  'src/auth/email.ts',
  'src/auth/invitations.ts',
  'src/auth/login.ts',
  'src/auth/mfa.ts',
  'src/auth/passkeys.ts',
  'src/auth/sessions.ts',
  'src/auth/tenants.ts',
  'src/security/csrf.ts',
  'src/security/passwords.ts',
  'src/security/rate-limit.ts',
  'src/security/tokens.ts',
  'src/load-once.ts',
  'src/routes/public/auth.ts',
  'src/routes/public/invitation.ts',
  'src/routes/public/login-mfa.ts',
  'src/routes/api/account.ts',
  'src/routes/api/mfa.ts',
  'src/routes/api/passkeys.ts',
  'src/routes/api/sessions.ts',
  'src/routes/api/tenants.ts',
  'src/mail/mailer.ts',
  'src/mail/messages.ts',
  'data/common-passwords.txt',
  'data/common-passwords.LICENSE.txt',
  'supabase/migrations/20240101000300_xms_auth.sql',
  'supabase/migrations/20240101000350_xms_accounts.sql',
  'supabase/migrations/20240101000360_xms_mfa.sql',
  'supabase/migrations/20240101000370_xms_account_email.sql',
  'supabase/migrations/20240101000380_xms_tenant_join.sql',
  'supabase/migrations/20240101000385_xms_passkeys.sql',
  'supabase/migrations/20240101000390_xms_request_entry.sql',
  'supabase/migrations/20240101000395_xms_current_user_profile.sql',
  'supabase/migrations/20240101000396_xms_request_entry_row_type.sql',
  'supabase/migrations/20240101000397_xms_auth_key.sql',
  // the audit trigger's plan setting: not the auth subsystem's own, but it comes after the auth
  // migrations, so a repo that gets them from `xms add auth` gets it in the same order
  'supabase/migrations/20240101000398_xms_audit_generic_plan.sql',
  'supabase/migrations/20240101000399_xms_session_profile.sql',
  'supabase/migrations/20240101000401_xms_session_entry_json.sql',
  'supabase/migrations/20240101000402_xms_session_check_by_login.sql',
  'supabase/migrations/20240101000403_xms_session_membership_revocation.sql',
  'test/http/rate-limit.test.ts',
  'test/http/accounts.test.ts',
  'test/http/email-verification.test.ts',
  'test/http/mfa.test.ts',
  'test/http/passkeys.test.ts',
  'test/http/password-forgot.test.ts',
  'test/http/sessions.test.ts',
  'test/http/tenants.test.ts',
  'test/helpers/mail.ts',
  'test/helpers/webauthn.ts',
];
/** What the restored tests need: a real SMTP server in-process and a parser for what it receives. */
const AUTH_DEV_DEPENDENCIES = ['@types/mailparser', '@types/nodemailer', '@types/qrcode', '@types/smtp-server', 'mailparser', 'smtp-server'];
const AUTH_DEPENDENCIES = [
  '@simplewebauthn/server', '@zxcvbn-ts/core', '@zxcvbn-ts/language-common', '@zxcvbn-ts/language-en', 'argon2', 'cookie', 'nodemailer', 'otpauth', 'qrcode', 'rate-limiter-flexible',
];


/** The dependency ranges the base app gives the auth subsystem (templates/app/versions.json). */
function baseDependencies(): { dependencies: Record<string, string>; devDependencies: Record<string, string> } {
  const pick = (names: string[]) => Object.fromEntries(names.map((name) => [name, appVersion(name)]));
  return { dependencies: pick(AUTH_DEPENDENCIES), devDependencies: pick(AUTH_DEV_DEPENDENCIES) };
}

const generator: FeatureGenerator = {
  name: 'auth',
  description:
    'Accounts (argon2id, common-password list, zxcvbn-ts strength, one e-mail normalisation), sessions (__Host- cookie, stored hashed) and shared rate limits: ' +
    'restores the base app\'s files an app lacks; identical files are left alone, different ones are a refusal.',
  questions: [],

  async plan(appDir: string, _answers: Answers): Promise<Plan> {
    assertApp(appDir);
    const fork = await forkOf(appDir);
    const changes: FileChange[] = [];
    const conflicts: string[] = [];
    for (const path of AUTH_FILES) {
      const wanted = appTemplateFile(`base/${path}`, fork);
      if (wanted === undefined) continue; // not part of this version of the templates
      const present = readProjectFile(appDir, path);
      if (present === undefined) changes.push({ path, after: wanted });
      else if (present !== wanted) conflicts.push(path);
    }
    if (conflicts.length > 0) {
      throw new UserError(
        `refusing to overwrite ${conflicts.join(', ')}: ${conflicts.length > 1 ? 'they differ' : 'it differs'} from the built-in auth template; ` +
          'compare by hand (or move the file away and run xms add auth again).',
      );
    }
    const before = readProjectFile(appDir, 'package.json');
    if (before !== undefined) {
      const pkg = JSON.parse(before) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
      let changed = false;
      const wanted = baseDependencies();
      for (const field of ['dependencies', 'devDependencies'] as const) {
        const deps = { ...(pkg[field] ?? {}) };
        let fieldChanged = false;
        for (const [name, range] of Object.entries(wanted[field])) {
          // a package already present in either list is left where it is
          if (!deps[name] && !pkg.dependencies?.[name] && !pkg.devDependencies?.[name]) {
            deps[name] = range;
            fieldChanged = true;
          }
        }
        if (fieldChanged) {
          pkg[field] = Object.fromEntries(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b)));
          changed = true;
        }
      }
      if (changed) changes.push({ path: 'package.json', before, after: `${JSON.stringify(pkg, null, 2)}\n` });
    }
    return { changes, notes: ['run npm install, then npm run db:migrate (the auth migration) and npm test'] };
  },
};

export default generator;
