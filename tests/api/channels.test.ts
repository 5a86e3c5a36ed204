/**
 * Alert channels through the API, with real parts, on both stores: `next start`, a local webhook receiver that verifies
 * the Standard Webhooks signature with the standardwebhooks package and the secret from the 201, a Slack-shaped
 * receiver, a real SMTP server (smtp-server: STARTTLS with a self-signed certificate the app trusts through
 * NODE_EXTRA_CA_CERTS, AUTH PLAIN/LOGIN). Secrets masked in every answer and audit entry; the SSRF guard at save and,
 * after a restart without HTTP_JOB_ALLOW, at send; roles.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { loginCookie, startApp, type StartedApp } from '../support/app';
import { startTestMongo } from '../support/mongo';
import { startTestPostgres } from '../support/postgres';
import { startTestSmtp, type TestSmtp } from '../support/smtp';

interface Hit {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

const SMTP_USER = { username: 'alerts@example.com', password: 'smtp-password-do-not-leak-9876' };
const WEBHOOK_TOKEN = 'webhook-token-do-not-leak-1234';
const SLACK_PATH = '/services/T0000/B0000/slack-secret-do-not-leak';

const stores = [
  { name: 'postgres', start: async () => startTestPostgres() },
  { name: 'mongodb', start: async () => startTestMongo() },
];

for (const store of stores) {
  describe(`alert channels through the API (${store.name})`, { timeout: 240_000 }, () => {
    let db: { url: string; stop(): Promise<void> };
    let app: StartedApp;
    let smtp: TestSmtp;
    let receiver: Server;
    let receiverBase = '';
    const hits: Hit[] = [];
    let answerStatus = 204;
    const secretsKey = randomBytes(32).toString('base64');
    let viewerToken = '';
    let operatorToken = '';

    before(async () => {
      db = await store.start();
      smtp = await startTestSmtp({ starttls: true, user: SMTP_USER });
      receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        req.on('end', () => {
          hits.push({ url: req.url ?? '', headers: req.headers, body });
          res.writeHead(answerStatus);
          res.end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      receiverBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
      app = await startApp({
        databaseUrl: db.url,
        env: { SECRETS_KEY: secretsKey, NODE_EXTRA_CA_CERTS: smtp.certFile!, SCHEDULER_DISABLED: '1', SMTP_URL: undefined },
      });
      viewerToken = String((await call('POST', '/api/tokens', { name: 'viewer', role: 'viewer' })).json.secret);
      operatorToken = String((await call('POST', '/api/tokens', { name: 'operator', role: 'operator' })).json.secret);
    });

    after(async () => {
      await app?.stop();
      await smtp?.close();
      await new Promise((resolve) => receiver?.close(resolve));
      await db?.stop();
    });

    async function call(method: string, path: string, body?: unknown, token = app.apiToken): Promise<Answer> {
      const response = await fetch(`${app.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await response.text();
      return { status: response.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    }

    function expect(answer: Answer, status: number, what: string): Answer {
      assert.equal(answer.status, status, `${what}: ${answer.status} ${answer.text}`);
      return answer;
    }

    /** No secret in any answer, audit entry or log line. */
    function assertNoSecrets(text: string, what: string): void {
      for (const secret of [WEBHOOK_TOKEN, 'slack-secret-do-not-leak', SMTP_USER.password, 'enc:v1:']) {
        assert.ok(!text.includes(secret), `${what} shows a secret (${secret.slice(0, 12)}…)`);
      }
    }

    let webhookId = '';
    let webhookSecret = '';
    let slackId = '';
    let emailId = '';

    test('webhook: the 201 has the signing secret once; the test alert is signed with it; the URL secret is masked everywhere', async () => {
      const created = expect(
        await call('POST', '/api/channels', {
          name: 'ops webhook',
          type: 'webhook',
          config: { url: `${receiverBase}/hook?token=${WEBHOOK_TOKEN}` },
          dailyCap: 100,
        }),
        201,
        'create webhook',
      ).json;
      webhookId = String(created.id);
      webhookSecret = String(created.signingSecret);
      assert.match(webhookSecret, /^whsec_/);
      assert.deepEqual(created.config, { url: `${receiverBase}/hook?••••` });
      assert.equal(created.dailyCap, 100);
      const shown = expect(await call('GET', `/api/channels/${webhookId}`), 200, 'get').json;
      assert.equal(shown.signingSecret, undefined, 'the secret is not shown again');
      assert.deepEqual(shown.config, { url: `${receiverBase}/hook?••••` });

      hits.length = 0;
      answerStatus = 204;
      const sent = expect(await call('POST', `/api/channels/${webhookId}/test`), 200, 'test').json;
      assert.deepEqual(sent, { ok: true });
      assert.equal(hits.length, 1);
      const hit = hits[0]!;
      assert.equal(hit.url, `/hook?token=${WEBHOOK_TOKEN}`, 'the stored URL, secret included, is what is called');
      const payload = new Webhook(webhookSecret).verify(hit.body, hit.headers as Record<string, string>) as Record<string, unknown>;
      assert.equal(payload.type, 'test');
      assert.equal(hit.headers['webhook-id'], payload.id);
      assert.match(String(payload.title), /ops webhook/);

      const revealed = expect(await call('POST', `/api/channels/${webhookId}/signing-secret/reveal`), 200, 'reveal').json;
      assert.equal(revealed.signingSecret, webhookSecret);

      // A receiver answering 500: a 502 with the reason, no secret in it.
      answerStatus = 500;
      const failed = expect(await call('POST', `/api/channels/${webhookId}/test`), 502, 'test against a failing receiver');
      assert.equal(failed.json.ok, false);
      assert.match(String(failed.json.error), /answered 500/);
      assertNoSecrets(failed.text, 'the 502');
      answerStatus = 204;
    });

    test('slack: the receiver gets {"text"}; the whole URL is masked; a masked URL sent back keeps it', async () => {
      const created = expect(
        await call('POST', '/api/channels', { name: 'ops slack', type: 'slack', config: { url: `${receiverBase}${SLACK_PATH}` } }),
        201,
        'create slack',
      ).json;
      slackId = String(created.id);
      assert.equal(created.signingSecret, undefined);
      const masked = (created.config as { url: string }).url;
      assert.equal(masked, '••••leak');
      // Renamed, with the masked URL sent back: the stored URL stays.
      const renamed = expect(
        await call('PATCH', `/api/channels/${slackId}`, { name: 'ops slack 2', type: 'slack', config: { url: masked } }),
        200,
        'patch with the masked url',
      ).json;
      assert.equal(renamed.name, 'ops slack 2');
      hits.length = 0;
      expect(await call('POST', `/api/channels/${slackId}/test`), 200, 'slack test');
      assert.equal(hits.length, 1);
      assert.equal(hits[0]!.url, SLACK_PATH);
      const body = JSON.parse(hits[0]!.body) as { text: string };
      assert.match(body.text, /^\*Test alert from Cronplane: channel ops slack 2\*/);
      // A masked value that is not the stored one's display is refused.
      const refused = expect(
        await call('PATCH', `/api/channels/${slackId}`, { type: 'slack', config: { url: '••••abcd' } }),
        400,
        'a made-up mask',
      );
      assert.deepEqual(
        (refused.json.issues as Array<{ path: string }>).map((i) => i.path),
        ['config.url'],
      );
      // Another type is a conflict, not a change.
      expect(await call('PATCH', `/api/channels/${slackId}`, { type: 'webhook', config: { url: `${receiverBase}/x` } }), 409, 'type');
    });

    test('email: STARTTLS with a login to a real SMTP server; subject, Message-ID and body; the password is masked and kept only for the same server', async () => {
      const created = expect(
        await call('POST', '/api/channels', {
          name: 'ops mail',
          type: 'email',
          config: {
            host: smtp.host,
            port: smtp.port,
            security: 'starttls',
            username: SMTP_USER.username,
            password: SMTP_USER.password,
            from: 'cronplane@example.com',
            to: ['oncall@example.com'],
          },
        }),
        201,
        'create email',
      ).json;
      emailId = String(created.id);
      const config = created.config as Record<string, unknown>;
      assert.equal(config.password, '••••9876');
      const before = smtp.received.length;
      expect(await call('POST', `/api/channels/${emailId}/test`), 200, 'email test');
      assert.equal(smtp.received.length, before + 1);
      const mail = smtp.received.at(-1)!;
      assert.equal(mail.secure, true);
      assert.equal(mail.user, SMTP_USER.username);
      assert.equal(mail.header('subject'), 'Test alert from Cronplane: channel ops mail');
      assert.match(mail.header('message-id') ?? '', /^<test_[0-9a-f-]+@alerts\.cronplane>$/);
      assert.equal(mail.header('x-cronplane-alert-id'), mail.header('message-id')!.slice(1).split('@')[0]);
      assert.match(mail.body, /Send test alert/);

      // The masked password sent back with the same server keeps it (the test still logs in)...
      expect(await call('PATCH', `/api/channels/${emailId}`, { type: 'email', config }), 200, 'patch keeping the password');
      expect(await call('POST', `/api/channels/${emailId}/test`), 200, 'email test after the edit');
      assert.equal(smtp.received.length, before + 2);
      // ...but not once the channel points to another server: it must be typed again.
      const moved = expect(
        await call('PATCH', `/api/channels/${emailId}`, { type: 'email', config: { ...config, port: smtp.port + 1 } }),
        400,
        'masked password to another port',
      );
      assert.deepEqual(
        (moved.json.issues as Array<{ path: string }>).map((i) => i.path),
        ['config.password'],
      );
      // A wrong password: the server refuses, the answer says so without the password.
      expect(
        await call('PATCH', `/api/channels/${emailId}`, { type: 'email', config: { ...config, password: 'wrong-password-5555' } }),
        200,
        'patch with a wrong password',
      );
      const refused = expect(await call('POST', `/api/channels/${emailId}/test`), 502, 'test with a wrong password');
      assert.doesNotMatch(refused.text, /wrong-password/);
    });

    test('the SSRF guard at save: link-local and loopback targets not in HTTP_JOB_ALLOW are 400s, nothing saved', async () => {
      const count = (expect(await call('GET', '/api/channels'), 200, 'list').json.channels as unknown[]).length;
      for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://localhost:9/x', 'http://[::1]/x', 'http://10.1.2.3/x']) {
        for (const type of ['webhook', 'slack']) {
          const answer = expect(await call('POST', '/api/channels', { name: `bad ${type} ${url}`, type, config: { url } }), 400, url);
          assert.deepEqual(
            (answer.json.issues as Array<{ path: string }>).map((i) => i.path),
            ['config.url'],
          );
          assert.match(answer.text, /HTTP_JOB_ALLOW/);
        }
      }
      assert.equal((expect(await call('GET', '/api/channels'), 200, 'list').json.channels as unknown[]).length, count);
    });

    test('names are unique (409); viewers and operators see names and types only and cannot create, change, test, reveal or delete (403)', async () => {
      expect(
        await call('POST', '/api/channels', { name: 'ops webhook', type: 'slack', config: { url: `${receiverBase}/y` } }),
        409,
        'taken name',
      );
      const auditBefore = (expect(await call('GET', '/api/audit?limit=200'), 200, 'audit').json.entries as unknown[]).length;
      for (const token of [viewerToken, operatorToken]) {
        const list = expect(await call('GET', '/api/channels', undefined, token), 200, 'list as a lower role').json;
        for (const channel of list.channels as Array<Record<string, unknown>>) {
          assert.deepEqual(Object.keys(channel).sort(), ['id', 'name', 'type']);
        }
        assert.deepEqual(Object.keys(expect(await call('GET', `/api/channels/${webhookId}`, undefined, token), 200, 'get').json).sort(), [
          'id',
          'name',
          'type',
        ]);
        const writes: Array<[string, string, unknown]> = [
          ['POST', '/api/channels', { name: 'nope', type: 'slack', config: { url: `${receiverBase}/z` } }],
          ['PATCH', `/api/channels/${webhookId}`, { name: 'nope' }],
          ['DELETE', `/api/channels/${webhookId}`, undefined],
          ['POST', `/api/channels/${webhookId}/test`, undefined],
          ['POST', `/api/channels/${webhookId}/signing-secret/reveal`, undefined],
        ];
        hits.length = 0;
        for (const [method, path, body] of writes) {
          const answer = expect(await call(method, path, body, token), 403, `${method} ${path} as a lower role`);
          assert.doesNotMatch(answer.text, /whsec_/);
        }
        assert.equal(hits.length, 0, 'no test alert was sent');
      }
      const auditAfter = (expect(await call('GET', '/api/audit?limit=200'), 200, 'audit').json.entries as unknown[]).length;
      assert.equal(auditAfter, auditBefore, 'refused requests are not audited as changes');
    });

    test('every answer and audit entry is free of secrets; create, update, test, reveal and delete are audited', async () => {
      const texts = [
        (await call('GET', '/api/channels')).text,
        (await call('GET', `/api/channels/${webhookId}`)).text,
        (await call('GET', `/api/channels/${slackId}`)).text,
        (await call('GET', `/api/channels/${emailId}`)).text,
      ];
      // The Settings -> Channels page (admins): the channels, their targets masked.
      const cookie = await loginCookie(app, 'admin', app.adminPassword);
      const page = await fetch(`${app.baseUrl}/settings/channels`, { headers: { cookie }, redirect: 'manual' });
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.ok(html.includes('ops webhook') && html.includes('ops mail'), 'the page lists the channels');
      assert.ok(html.includes('/hook?••••'), 'the webhook target, masked');
      texts.push(html);
      for (const text of texts) assertNoSecrets(text, 'a channel answer');
      expect(await call('DELETE', `/api/channels/${slackId}`), 204, 'delete');
      expect(await call('GET', `/api/channels/${slackId}`), 404, 'deleted');
      expect(await call('DELETE', `/api/channels/${slackId}`), 404, 'deleted twice');
      const audit = expect(await call('GET', '/api/audit?targetType=channel&limit=200'), 200, 'audit');
      assertNoSecrets(audit.text, 'the audit log');
      assert.ok(!audit.text.includes(webhookSecret), 'the signing secret is not in the audit log');
      const actions = new Set((audit.json.entries as Array<{ action: string }>).map((e) => e.action));
      for (const action of ['channel.create', 'channel.update', 'channel.test', 'channel.signing-secret.reveal', 'channel.delete']) {
        assert.ok(actions.has(action), `${action} audited`);
      }
      assertNoSecrets(app.logs(), 'the app log');
    });

    test('the SSRF guard at send: after a restart without HTTP_JOB_ALLOW, the saved loopback webhook is refused (502), nothing sent', async () => {
      await app.stop();
      app = await startApp({ databaseUrl: db.url, env: { SECRETS_KEY: secretsKey, SCHEDULER_DISABLED: '1', HTTP_JOB_ALLOW: undefined } });
      hits.length = 0;
      const answer = expect(await call('POST', `/api/channels/${webhookId}/test`), 502, 'test without HTTP_JOB_ALLOW');
      assert.match(String(answer.json.error), /HTTP_JOB_ALLOW/);
      assertNoSecrets(answer.text, 'the 502');
      assert.equal(hits.length, 0);
    });
  });
}
