import nodemailer, { type Transporter } from 'nodemailer';
import type { AppConfig } from '../config.js';
import type { MessageBody } from './messages.js';

/**
 * Outgoing e-mail through nodemailer. With SMTP_URL set (required in production: src/config.ts),
 * every message goes to that SMTP server; without it (development, tests that do not read mail), each
 * message is printed, with its links, through `print` (the console in development).
 *
 * Mail is sent in the background (`background()`), after the answer: a route never waits for the SMTP
 * server, and a route that must not reveal whether an account exists ("forgot password") does the
 * lookup there too, so its answer and its timing are the same either way. A failure is logged, never
 * thrown at a client. `settled()` waits for everything queued (tests, and shutdown).
 */
export interface Outgoing extends MessageBody {
  to: string;
}

export interface MailerOptions {
  /** where a message goes without SMTP_URL (default: nowhere in tests, the console otherwise) */
  print?: (text: string) => void;
  /** logs a failed background task */
  onError?: (error: unknown) => void;
  /** the public origin links point to: APP_ORIGIN, else (development) the listening address */
  origin: () => string;
}

export class Mailer {
  private readonly transport: Transporter | undefined;
  private readonly pending = new Set<Promise<void>>();
  private readonly print: (text: string) => void;

  constructor(
    private readonly config: AppConfig,
    private readonly options: MailerOptions,
  ) {
    this.transport = config.mail.smtpUrl ? nodemailer.createTransport(config.mail.smtpUrl) : undefined;
    this.print = options.print ?? (config.env === 'test' ? () => undefined : (text) => console.log(text));
  }

  /** An absolute link into the app: `path` may carry a fragment (the token). */
  link(path: string): string {
    return `${this.options.origin()}${path}`;
  }

  async send(message: Outgoing): Promise<void> {
    if (!this.transport) {
      this.print(`--- e-mail (no SMTP_URL: printed, not sent) ---\nTo: ${message.to}\nSubject: ${message.subject}\n\n${message.text}---`);
      return;
    }
    await this.transport.sendMail({ from: this.config.mail.from, to: message.to, subject: message.subject, text: message.text, html: message.html });
  }

  /** Runs `task` after the current request, without holding it up; a failure is logged. */
  background(task: () => Promise<void>): void {
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(task)
      .catch((error: unknown) => this.options.onError?.(error))
      .finally(() => this.pending.delete(run));
    this.pending.add(run);
  }

  /** Resolves when every background task queued so far (and any they queue) has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  async close(): Promise<void> {
    await this.settled();
    this.transport?.close();
  }
}
