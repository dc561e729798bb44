/**
 * A real SMTP server, in this process (the `smtp-server` package), that keeps every message the app
 * sends: tests point SMTP_URL at it and read what a mailbox would receive (parsed by `mailparser`).
 *
 *   const inbox = await startInbox();
 *   const server = await startServer(testConfig({ mail: inbox.mailConfig }));
 *   const message = await inbox.next('someone@example.test');   // waits for it
 *   const token = linkToken(message.text);
 */
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { AppConfig } from '../../src/config.js';

export interface ReceivedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
}

export interface Inbox {
  /** for testConfig({ mail }) */
  mailConfig: AppConfig['mail'];
  /** every message received so far */
  messages: ReceivedMail[];
  /** the next message to `to` not yet taken (waits up to `timeoutMs`) */
  next(to: string, timeoutMs?: number): Promise<ReceivedMail>;
  /** how many messages to `to` arrived (taken or not) */
  count(to: string): number;
  close(): Promise<void>;
}

/** The inboxes open in this process (signUpAndLogin follows the confirmation link it finds there). */
export const openInboxes = new Set<Inbox>();

export async function startInbox(): Promise<Inbox> {
  const messages: ReceivedMail[] = [];
  const taken = new Set<ReceivedMail>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          for (const rcpt of session.envelope.rcptTo) {
            messages.push({
              to: rcpt.address,
              from: parsed.from?.text ?? '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
            });
          }
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const inbox: Inbox = {
    mailConfig: { smtpUrl: `smtp://127.0.0.1:${port}`, from: 'Test app <no-reply@example.test>', appName: 'Test app' },
    messages,
    async next(to, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find((m) => m.to === to && !taken.has(m));
        if (found) {
          taken.add(found);
          return found;
        }
        if (Date.now() > deadline) throw new Error(`no e-mail to ${to} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    count: (to) => messages.filter((m) => m.to === to).length,
    close: () => {
      openInboxes.delete(inbox);
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  openInboxes.add(inbox);
  return inbox;
}

/**
 * Takes the sign-up confirmation sent to `to` from whichever open inbox received it, and returns its
 * token; undefined when no inbox got one (a server without SMTP_URL prints its mail instead).
 */
export async function takeSignupConfirmation(to: string): Promise<string | undefined> {
  for (const inbox of openInboxes) {
    if (inbox.messages.some((m) => m.to === to && /^Confirm your e-mail address/.test(m.subject))) {
      return linkToken((await inbox.next(to)).text);
    }
  }
  return undefined;
}

/** The link of a message (the first http(s) URL of its text). */
export function mailLink(text: string): string {
  const match = /https?:\/\/\S+/.exec(text);
  if (!match) throw new Error(`no link in: ${text}`);
  return match[0];
}

/** The token of a message's link (/reset-password#token=... or /invitation#token=...). */
export function linkToken(text: string): string {
  const match = /#token=([A-Za-z0-9_-]{43})/.exec(text);
  if (!match) throw new Error(`no token link in: ${text}`);
  return match[1]!;
}
