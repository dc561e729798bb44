/**
 * Every e-mail the app sends, in one place: each function returns the subject, a plain-text body and
 * an HTML body. Anything that comes from a user (a tenant's name) is escaped in the HTML; links are
 * built by the server from APP_ORIGIN (never from the request's Host header, which an attacker
 * chooses), and a token only ever travels in a link's fragment (#token=...), which browsers send to
 * no server and put in no Referer.
 */
export interface MessageBody {
  subject: string;
  text: string;
  html: string;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML-escapes a value for text or a quoted attribute. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ENTITIES[char]!);
}

/** Paragraphs, then the link (its label in HTML, the bare URL in text), then closing paragraphs. */
function compose(subject: string, before: string[], link: { url: string; label: string }, after: string[]): MessageBody {
  const html = (paragraphs: string[]) => paragraphs.map((p) => `<p>${escapeHtml(p)}</p>\n`).join('');
  return {
    subject,
    text: `${[...before, link.url, ...after].join('\n\n')}\n`,
    html:
      '<!doctype html>\n<html><body>\n' +
      html(before) +
      `<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>\n` +
      html(after) +
      '</body></html>\n',
  };
}

/** "Forgot password" and an administrator's reset: a single-use link, valid `minutes`. */
export function passwordResetMessage(input: { appName: string; link: string; minutes: number; byAdmin: boolean }): MessageBody {
  return compose(
    `Reset your ${input.appName} password`,
    [
      input.byAdmin
        ? `An administrator of ${input.appName} asked for your password to be reset.`
        : `Someone (we hope you) asked to reset the password of your ${input.appName} account.`,
      'Choose a new password here:',
    ],
    { url: input.link, label: 'Choose a new password' },
    [
      `The link works once and expires in ${input.minutes} minutes. Using it signs you out everywhere.`,
      input.byAdmin ? 'Your sessions have already been ended.' : 'If you did not ask for this, ignore this message: your password stays as it is.',
    ],
  );
}

/** An invitation to a tenant: the link lets the invitee choose a password (valid `hours`). */
export function invitationMessage(input: { appName: string; tenantName: string; link: string; hours: number }): MessageBody {
  return compose(
    `You are invited to ${input.tenantName} on ${input.appName}`,
    [`You have been invited to join "${input.tenantName}" on ${input.appName}.`, 'Choose your password to accept:'],
    { url: input.link, label: 'Accept the invitation' },
    [`The link works once and expires in ${input.hours} hours.`, 'If you did not expect this invitation, ignore this message.'],
  );
}

/**
 * An invitation sent to an address that already has an account: the link opens the invitation page,
 * where the account joins with its own password (and second factor); it sets no password, so the
 * link alone gives nothing. The inviting administrator got the same answer as for a new address:
 * only the mailbox learns that the account exists.
 */
export function invitationForExistingAccountMessage(input: { appName: string; tenantName: string; link: string; hours: number }): MessageBody {
  return compose(
    `You are invited to ${input.tenantName} on ${input.appName}`,
    [
      `You have been invited to join "${input.tenantName}" on ${input.appName}. This address already has an account there.`,
      'Accept with your current password: your account keeps its password and its other organisations.',
    ],
    { url: input.link, label: 'Accept the invitation' },
    [`The link works once and expires in ${input.hours} hours.`, 'If you did not expect this invitation, ignore this message.'],
  );
}

/**
 * "Confirm your address": after sign-up (`purpose` signup) or for a new address of an existing
 * account (`purpose` change). The link works once, for `hours`.
 */
export function verifyEmailMessage(input: { appName: string; link: string; hours: number; purpose: 'signup' | 'change' }): MessageBody {
  const signup = input.purpose === 'signup';
  return compose(
    signup ? `Confirm your e-mail address for ${input.appName}` : `Confirm your new e-mail address for ${input.appName}`,
    [
      signup
        ? `Someone (we hope you) signed up to ${input.appName} with this address. Confirm it to start using the account:`
        : `Someone (we hope you) asked to use this address for a ${input.appName} account. It takes effect when you confirm it:`,
    ],
    { url: input.link, label: 'Confirm this address' },
    [`The link works once and expires in ${input.hours} hours.`, 'If you did not ask for this, ignore this message: nothing changes.'],
  );
}

/** Told to the current address when a change to another one is asked for: it names the new one, so the owner recognises a change they did not ask for. */
export function emailChangeNoticeMessage(input: { appName: string; newAddress: string; loginLink: string }): MessageBody {
  return compose(
    `Your ${input.appName} e-mail address is about to change`,
    [
      `Someone signed in to your ${input.appName} account asked to change its e-mail address to ${input.newAddress}.`,
      'The change takes effect only when the new address is confirmed. Until then, this address stays the account\'s.',
    ],
    { url: input.loginLink, label: `Log in to ${input.appName}` },
    ['If this was not you, log in and change your password now: that ends every session, and the pending change with it.'],
  );
}
