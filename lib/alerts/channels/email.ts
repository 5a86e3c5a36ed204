import nodemailer from 'nodemailer';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import type { AlertMessage } from '../../domain';
import type { EmailConfig } from '../../validation/channel';

// E-mail channels: SMTP through nodemailer. The server is the channel's (host, port, TLS mode, login) or, for what the
// channel leaves out, the SMTP_URL environment variable's (smtp://user:pass@host:587 or smtps://...:465; nodemailer's
// URL options such as ?tls.rejectUnauthorized=false apply). One connection per alert: alerts are rare.

export const SMTP_TIMEOUT_MS = 10_000;

type TransportOptions = Parameters<typeof nodemailer.createTransport>[0] & Record<string, unknown>;

/** A Message-ID from the alert's id: the same on every retry, so mail clients and archives see one message. */
export function messageIdOf(alertId: string): string {
  return `<${alertId.replace(/[^A-Za-z0-9._-]/g, '_')}@alerts.cronplane>`;
}

/** The transport options: SMTP_URL's as the base, the channel's on top; security decides secure/requireTLS. */
export function smtpOptions(config: EmailConfig, env: Record<string, string | undefined> = process.env): Record<string, unknown> {
  const smtpUrl = env.SMTP_URL?.trim();
  if (!config.host && !smtpUrl) throw new Error('no SMTP server: the channel names no host and SMTP_URL is not set');
  const base: Record<string, unknown> = config.host ? {} : { ...parseConnectionUrl(smtpUrl) };
  const options: Record<string, unknown> = { ...base };
  if (config.host) options.host = config.host.replace(/^\[|\]$/g, '');
  // The TLS mode: the channel's; else SMTP_URL's scheme (smtps: TLS; smtp: STARTTLS when offered); a host given with
  // no mode requires STARTTLS.
  const security = config.security ?? (config.host ? 'starttls' : undefined);
  if (security === 'tls') Object.assign(options, { secure: true, requireTLS: false });
  if (security === 'starttls') Object.assign(options, { secure: false, requireTLS: true });
  if (security === 'opportunistic') Object.assign(options, { secure: false, requireTLS: false });
  if (config.port !== undefined) options.port = config.port;
  else if (config.host) options.port = security === 'tls' ? 465 : 587;
  if (config.username !== undefined) options.auth = { user: config.username, pass: config.password ?? '' };
  return {
    ...options,
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
    // No pool: one connection, closed after the alert.
    pool: false,
    logger: false,
    debug: false,
  };
}

/** The text body: the message's text, the suppressed count, the link. */
export function emailText(message: AlertMessage): string {
  const lines = [message.title, ''];
  if (message.text) lines.push(message.text, '');
  if (message.suppressedCount > 0)
    lines.push(`${message.suppressedCount} more alert(s) of this rule were held back since the last one.`, '');
  if (message.url) lines.push(message.url, '');
  lines.push(`Event: ${message.event}, at ${message.at.toISOString()}. Alert id: ${message.id}`);
  return `${lines.join('\n')}\n`;
}

/** An SMTP failure as a short message: nodemailer's (the server's response), without the password if it were echoed. */
function smtpError(err: unknown, secrets: Array<string | undefined>): Error {
  let text = err instanceof Error ? err.message : String(err);
  for (const secret of secrets) if (secret) text = text.split(secret).join('••••');
  const code = (err as { responseCode?: unknown } | null)?.responseCode;
  return new Error(`e-mail not sent: ${text.slice(0, 300)}${typeof code === 'number' && !text.includes(String(code)) ? ` (${code})` : ''}`);
}

export async function sendEmail(config: EmailConfig, message: AlertMessage, signal: AbortSignal): Promise<void> {
  const options = smtpOptions(config);
  const auth = options.auth as { pass?: string } | undefined;
  const transport = nodemailer.createTransport(options as TransportOptions);
  const timeout = AbortSignal.timeout(SMTP_TIMEOUT_MS * 2);
  try {
    await transport.sendMail({
      from: config.from,
      to: config.to,
      subject: message.title,
      text: emailText(message),
      messageId: messageIdOf(message.id),
      headers: { 'X-Cronplane-Alert-Id': message.id, 'X-Cronplane-Event': message.event },
      date: message.at,
      signal: AbortSignal.any([signal, timeout]),
    });
  } catch (err) {
    if (timeout.aborted && !signal.aborted)
      throw new Error(`e-mail not sent: no answer from the SMTP server within ${(SMTP_TIMEOUT_MS * 2) / 1000}s`);
    throw smtpError(err, [auth?.pass, config.password]);
  } finally {
    transport.close();
  }
}
