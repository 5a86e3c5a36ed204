// sendToChannel with real parts: a local webhook receiver that verifies the Standard Webhooks signature with the
// standardwebhooks package, a Slack-shaped receiver, a real SMTP server (smtp-server) with STARTTLS on a self-signed
// certificate and AUTH PLAIN/LOGIN; the SSRF guard at send.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';

process.env.SECRETS_KEY ??= randomBytes(32).toString('base64');

const { sendToChannel } = await import('../../lib/alerts/send');
const { sealChannelConfig } = await import('../../lib/secrets/channels');
const { encryptSecret } = await import('../../lib/secrets');
const { newSigningSecret } = await import('../../lib/secrets/signing');
const { startLocalTarget } = await import('../support/local-target');
const { startTestSmtp } = await import('../support/smtp');
type Channel = import('../../lib/store/types').Channel;
type AlertMessage = import('../../lib/domain').AlertMessage;

function message(overrides: Partial<AlertMessage> = {}): AlertMessage {
  return {
    id: `alert_${randomUUID()}`,
    event: 'failure',
    at: new Date('2030-01-02T03:04:05.678Z'),
    title: 'nightly-backup failed (attempt 3 of 3)',
    text: 'Error: exit code 1\nOccurrence 2030-01-02T03:00:00.000Z on instance web-1',
    job: { id: randomUUID(), name: 'nightly-backup' },
    run: { id: randomUUID(), scheduledFor: new Date('2030-01-02T03:00:00.000Z'), status: 'failed', attempt: 3 },
    instanceId: 'web-1',
    suppressedCount: 2,
    url: 'https://cronplane.example.com/runs/1',
    ...overrides,
  };
}

/** A channel as the store holds it: secrets sealed. */
function channel(type: Channel['type'], config: Record<string, unknown>, signingSecret: string | null = null): Channel {
  return {
    id: randomUUID(),
    name: `${type}-channel`,
    type,
    config: sealChannelConfig(type, config),
    signingSecret: signingSecret === null ? null : encryptSecret(signingSecret),
    dailyCap: null,
    createdAt: new Date(),
    updatedAt: new Date(),
  };
}

const signal = () => AbortSignal.timeout(30_000);

interface Hit {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe('webhook and Slack channels', () => {
  const hits: Hit[] = [];
  let status = 204;
  let target: Awaited<ReturnType<typeof startLocalTarget>>;
  before(async () => {
    target = await startLocalTarget((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        hits.push({ url: req.url ?? '', headers: req.headers, body });
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status === 204 ? undefined : `echo ${req.url}`);
      });
    });
  });
  after(() => target.close());

  it('webhook: POSTs the documented JSON, signed with the channel secret; webhook-id is the alert id on every retry', async () => {
    status = 204;
    hits.length = 0;
    const secret = newSigningSecret();
    const ch = channel('webhook', { url: `${target.base}/hook?token=s3cr3t-token` }, secret);
    const msg = message();
    await sendToChannel(ch, msg, signal());
    await sendToChannel(ch, msg, signal());
    assert.equal(hits.length, 2);
    const [first, second] = hits as [Hit, Hit];
    assert.equal(first.url, '/hook?token=s3cr3t-token');
    assert.equal(first.headers['content-type'], 'application/json');
    // The receiver's check, with the package the specification points to.
    const verified = new Webhook(secret).verify(first.body, first.headers as Record<string, string>);
    assert.deepEqual(verified, {
      type: 'failure',
      id: msg.id,
      at: '2030-01-02T03:04:05.678Z',
      title: msg.title,
      text: msg.text,
      job: msg.job,
      run: { id: msg.run!.id, scheduledFor: '2030-01-02T03:00:00.000Z', status: 'failed', attempt: 3 },
      instanceId: 'web-1',
      suppressedCount: 2,
      url: msg.url,
    });
    assert.equal(first.headers['webhook-id'], msg.id);
    assert.equal(second.headers['webhook-id'], msg.id, 'stable across retries: a receiver deduplicates on it');
    assert.throws(
      () => new Webhook(newSigningSecret()).verify(first.body, first.headers as Record<string, string>),
      'another secret does not verify',
    );
    const tampered = first.body.replace('failure', 'recovery');
    assert.throws(() => new Webhook(secret).verify(tampered, first.headers as Record<string, string>));
  });

  it('webhook: a non-2xx answer (and a redirect) throws with the status and the origin, never the URL secret', async () => {
    hits.length = 0;
    const ch = channel('webhook', { url: `${target.base}/hook?token=s3cr3t-token` }, newSigningSecret());
    for (const code of [500, 404, 302]) {
      status = code;
      await assert.rejects(sendToChannel(ch, message(), signal()), (err: Error) => {
        assert.match(err.message, new RegExp(`${target.base.replace(/[.]/g, '\\.')} answered ${code}`));
        assert.doesNotMatch(err.message, /s3cr3t|token|\/hook/);
        return true;
      });
    }
    assert.equal(hits.length, 3);
    status = 204;
  });

  it('webhook: a channel without a signing secret sends nothing unsigned', async () => {
    hits.length = 0;
    await assert.rejects(sendToChannel(channel('webhook', { url: `${target.base}/hook` }), message(), signal()), /no signing secret/);
    assert.equal(hits.length, 0);
  });

  it('slack: POSTs {"text"} with the title, the text (escaped), the held-back count and the link', async () => {
    status = 200;
    hits.length = 0;
    const ch = channel('slack', { url: `${target.base}/services/T000/B000/XXXXSECRET` });
    await sendToChannel(ch, message({ text: 'a <b> & c' }), signal());
    assert.equal(hits.length, 1);
    const body = JSON.parse(hits[0]!.body) as { text: string };
    assert.deepEqual(Object.keys(body), ['text']);
    assert.match(body.text, /^\*nightly-backup failed \(attempt 3 of 3\)\*\n/);
    assert.match(body.text, /a &lt;b&gt; &amp; c/);
    assert.match(body.text, /2 more alerts/);
    assert.match(body.text, /<https:\/\/cronplane\.example\.com\/runs\/1\|Open in Cronplane>/);
    status = 500;
    await assert.rejects(
      sendToChannel(ch, message(), signal()),
      (err: Error) => !/XXXXSECRET|services/.test(err.message) && /500/.test(err.message),
    );
    status = 204;
  });

  it('the SSRF guard applies at send: link-local and loopback targets are refused without HTTP_JOB_ALLOW', async () => {
    const saved = process.env.HTTP_JOB_ALLOW;
    delete process.env.HTTP_JOB_ALLOW;
    hits.length = 0;
    try {
      for (const url of [
        'http://169.254.169.254/latest/meta-data',
        `${target.base}/hook`,
        `http://localhost:${new URL(target.base).port}/x`,
      ]) {
        await assert.rejects(sendToChannel(channel('webhook', { url }, newSigningSecret()), message(), signal()), /refused|HTTP_JOB_ALLOW/);
        await assert.rejects(sendToChannel(channel('slack', { url }), message(), signal()), /refused|HTTP_JOB_ALLOW/);
      }
      assert.equal(hits.length, 0, 'nothing reached the local receiver');
    } finally {
      process.env.HTTP_JOB_ALLOW = saved;
    }
  });

  it('a timeout or an abort ends the send with a short error', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(sendToChannel(channel('slack', { url: `${target.base}/x` }), message(), ac.signal), /aborted/);
  });
});

describe('e-mail channels (a real SMTP server)', () => {
  const user = { username: 'alerts@example.com', password: 'correct horse battery staple' };
  let tls: Awaited<ReturnType<typeof startTestSmtp>>;
  let plain: Awaited<ReturnType<typeof startTestSmtp>>;
  const savedUrl = process.env.SMTP_URL;
  before(async () => {
    tls = await startTestSmtp({ starttls: true, user });
    plain = await startTestSmtp({ starttls: false });
  });
  after(async () => {
    if (savedUrl === undefined) delete process.env.SMTP_URL;
    else process.env.SMTP_URL = savedUrl;
    await tls.close();
    await plain.close();
  });

  it('STARTTLS (required) with AUTH to the SMTP_URL server: subject, Message-ID from the alert id, X-Cronplane-Alert-Id, text body', async () => {
    // The server of SMTP_URL, trusting the test's self-signed certificate through nodemailer's URL options.
    process.env.SMTP_URL = `smtp://${tls.host}:${tls.port}?tls.ca=${encodeURIComponent(tls.certPem!)}`;
    const ch = channel('email', {
      security: 'starttls',
      username: user.username,
      password: user.password,
      from: 'cronplane@example.com',
      to: ['oncall@example.com', 'lead@example.com'],
    });
    const msg = message();
    await sendToChannel(ch, msg, signal());
    await sendToChannel(ch, msg, signal());
    assert.equal(tls.received.length, 2);
    const [mail, again] = tls.received as [NonNullable<(typeof tls.received)[0]>, NonNullable<(typeof tls.received)[0]>];
    assert.equal(mail.secure, true, 'sent after STARTTLS');
    assert.equal(mail.user, user.username, 'logged in');
    assert.equal(mail.from, 'cronplane@example.com');
    assert.deepEqual(mail.to, ['oncall@example.com', 'lead@example.com']);
    assert.equal(mail.header('subject'), msg.title);
    assert.match(mail.header('message-id') ?? '', /^<alert_[0-9a-f-]+@alerts\.cronplane>$/);
    assert.ok(mail.header('message-id')!.includes(msg.id));
    assert.equal(again.header('message-id'), mail.header('message-id'), 'stable across retries');
    assert.equal(mail.header('x-cronplane-alert-id'), msg.id);
    assert.match(mail.body, /Error: exit code 1/);
    assert.match(mail.body, /https:\/\/cronplane\.example\.com\/runs\/1/);
    assert.doesNotMatch(mail.raw, /correct horse/);
  });

  it('a wrong password is refused by the server: a short error with its response, no password in it', async () => {
    process.env.SMTP_URL = `smtp://${tls.host}:${tls.port}?tls.ca=${encodeURIComponent(tls.certPem!)}`;
    const before = tls.received.length;
    const ch = channel('email', {
      username: user.username,
      password: 'wrong-password-1234',
      from: 'cronplane@example.com',
      to: ['oncall@example.com'],
    });
    await assert.rejects(sendToChannel(ch, message(), signal()), (err: Error) => {
      assert.match(err.message, /^e-mail not sent: .*(535|Invalid)/);
      assert.doesNotMatch(err.message, /wrong-password/);
      return true;
    });
    assert.equal(tls.received.length, before);
    assert.ok(tls.authFailures >= 1);
  });

  it('an untrusted certificate is refused (the certificate is checked)', async () => {
    delete process.env.SMTP_URL;
    const ch = channel('email', {
      host: tls.host,
      port: tls.port,
      username: user.username,
      password: user.password,
      from: 'a@example.com',
      to: ['b@example.com'],
    });
    await assert.rejects(sendToChannel(ch, message(), signal()), /e-mail not sent: .*(certificate|self.signed)/i);
  });

  it('STARTTLS required (the default with a host) refuses a server without it; opportunistic sends in plain', async () => {
    delete process.env.SMTP_URL;
    const required = channel('email', { host: plain.host, port: plain.port, from: 'a@example.com', to: ['b@example.com'] });
    await assert.rejects(sendToChannel(required, message(), signal()), /e-mail not sent: .*STARTTLS/i);
    assert.equal(plain.received.length, 0);
    const opportunistic = channel('email', {
      host: plain.host,
      port: plain.port,
      security: 'opportunistic',
      from: 'a@example.com',
      to: ['b@example.com'],
    });
    await sendToChannel(opportunistic, message({ title: 'plain subject' }), signal());
    assert.equal(plain.received.length, 1);
    assert.equal(plain.received[0]!.header('subject'), 'plain subject');
    assert.equal(plain.received[0]!.secure, false);
  });

  it('no host and no SMTP_URL: a clear error', async () => {
    delete process.env.SMTP_URL;
    await assert.rejects(
      sendToChannel(channel('email', { from: 'a@example.com', to: ['b@example.com'] }), message(), signal()),
      /SMTP_URL is not set/,
    );
  });
});
