// A real SMTP server for the e-mail channel's tests (the smtp-server package): 127.0.0.1, a free port, STARTTLS with a
// self-signed certificate made here with openssl (or none), AUTH PLAIN/LOGIN checked against one user.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string | null;
  to: string[];
  /** The message as sent (headers and body), CRLF line ends. */
  raw: string;
  /** The login used, or null. */
  user: string | null;
  /** Whether the connection was TLS when the mail was sent. */
  secure: boolean;
  /** Header value by lower-case name (the first of each; folded lines joined). */
  header(name: string): string | null;
  /** The body after the header block, decoded when it is quoted-printable (soft line breaks and =XX escapes). */
  body: string;
}

export interface TestSmtp {
  host: '127.0.0.1';
  port: number;
  /** The certificate (PEM) the server presents for STARTTLS: a test trusts it (tls.ca, NODE_EXTRA_CA_CERTS). */
  certPem: string | null;
  /** Path of the certificate file (for NODE_EXTRA_CA_CERTS), or null. */
  certFile: string | null;
  received: ReceivedMail[];
  /** Failed logins seen. */
  authFailures: number;
  close(): Promise<void>;
}

function decodeQuotedPrintable(text: string): string {
  const bytes = text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function parseHeaders(raw: string): { headers: Map<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = split === -1 ? raw : raw.slice(0, split);
  const body = split === -1 ? '' : raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

export async function startTestSmtp(options: { starttls: boolean; user?: { username: string; password: string } }): Promise<TestSmtp> {
  let dir: string | null = null;
  let key: string | undefined;
  let cert: string | undefined;
  if (options.starttls) dir = mkdtempSync(join(tmpdir(), 'cronplane-smtp-'));
  if (dir) {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  }
  const received: ReceivedMail[] = [];
  const state = { authFailures: 0 };
  const server = new SMTPServer({
    secure: false,
    ...(options.starttls ? { key, cert } : { disabledCommands: ['STARTTLS'] }),
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !options.user,
    // Logins only over TLS when the server offers it (as real servers do).
    allowInsecureAuth: !options.starttls,
    logger: false,
    onAuth(auth, _session, callback) {
      const user = options.user;
      if (user && auth.username === user.username && auth.password === user.password) return callback(null, { user: auth.username });
      state.authFailures++;
      return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const { headers, body } = parseHeaders(raw);
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          user: typeof session.user === 'string' ? session.user : null,
          secure: session.secure,
          header: (name) => headers.get(name.toLowerCase()) ?? null,
          body: /quoted-printable/i.test(headers.get('content-transfer-encoding') ?? '') ? decodeQuotedPrintable(body) : body,
        });
        callback(null, 'queued');
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    certPem: cert ?? null,
    certFile: dir ? join(dir, 'cert.pem') : null,
    received,
    get authFailures() {
      return state.authFailures;
    },
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
