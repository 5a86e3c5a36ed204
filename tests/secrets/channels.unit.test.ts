// Channel secrets (lib/secrets/channels.ts): which fields are secret, how they are masked, and when a masked value sent
// back keeps the stored secret.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';

process.env.SECRETS_KEY ??= randomBytes(32).toString('base64');
const { keepMaskedChannelSecrets, maskChannelConfig, maskWebhookUrl, revealChannelConfig, sealChannelConfig } =
  await import('../../lib/secrets/channels');

describe('channel secrets', () => {
  test('a webhook URL shows scheme, host, port and path; user info and query string are masked; the fragment is dropped', () => {
    assert.equal(maskWebhookUrl('https://hooks.example.com/in/abc'), 'https://hooks.example.com/in/abc');
    assert.equal(maskWebhookUrl('https://hooks.example.com:8443/in?token=s3cret&x=1'), 'https://hooks.example.com:8443/in?••••');
    assert.equal(maskWebhookUrl('https://user:pw@hooks.example.com/in#frag'), 'https://••••@hooks.example.com/in');
    assert.equal(maskWebhookUrl('not a url'), '••••');
  });

  test('sealed at rest, revealed for the sender, masked for everyone else', () => {
    const slack = { url: 'https://hooks.slack.com/services/T0/B0/abcdefghijkl' };
    const sealed = sealChannelConfig('slack', slack);
    assert.match(String(sealed.url), /^enc:v1:/);
    assert.deepEqual(sealChannelConfig('slack', sealed), sealed, 'sealing twice changes nothing');
    assert.deepEqual(revealChannelConfig('slack', sealed), slack);
    assert.deepEqual(maskChannelConfig('slack', sealed), { url: '••••ijkl' });
    const email = { host: 'smtp.example.com', password: 'short', from: 'a@example.com', to: ['b@example.com'] };
    const sealedEmail = sealChannelConfig('email', email);
    assert.equal(sealedEmail.host, 'smtp.example.com', 'only secret fields are encrypted');
    assert.deepEqual(maskChannelConfig('email', sealedEmail), { ...email, password: '••••' });
  });

  test('a masked value keeps the stored secret only when it is exactly what was shown', () => {
    const stored = sealChannelConfig('webhook', { url: 'https://hooks.example.com/in?token=s3cret' });
    const kept = keepMaskedChannelSecrets('webhook', { url: 'https://hooks.example.com/in?••••' }, stored);
    assert.deepEqual(kept, { config: stored, issues: [] });
    // Another path, host or scheme with the masked query: not what was shown, so not the stored secret.
    for (const url of [
      'https://hooks.example.com/other?••••',
      'https://evil.example.com/in?••••',
      'http://hooks.example.com/in?••••',
      '••••',
    ]) {
      const refused = keepMaskedChannelSecrets('webhook', { url }, stored);
      assert.deepEqual(
        refused.issues.map((i) => i.path),
        ['config.url'],
        url,
      );
    }
    // A new value in clear replaces it; nothing stored: any mask is refused.
    assert.deepEqual(keepMaskedChannelSecrets('webhook', { url: 'https://x.example.com/' }, stored).issues, []);
    assert.equal(keepMaskedChannelSecrets('slack', { url: '••••' }, {}).issues.length, 1);
  });

  test('a masked SMTP password is kept for the same server only', () => {
    const stored = sealChannelConfig('email', {
      host: 'smtp.example.com',
      port: 587,
      password: 'a-long-smtp-password',
      from: 'a@example.com',
      to: ['b@example.com'],
    });
    const shown = maskChannelConfig('email', stored);
    assert.equal(shown.password, '••••word');
    assert.equal(keepMaskedChannelSecrets('email', shown, stored).config.password, stored.password);
    assert.equal(keepMaskedChannelSecrets('email', { ...shown, password: '••••' }, stored).issues.length, 0, 'the bare mask too');
    for (const moved of [{ host: 'evil.example.com' }, { port: 2525 }, { host: undefined }]) {
      const result = keepMaskedChannelSecrets('email', { ...shown, ...moved }, stored);
      assert.deepEqual(
        result.issues.map((i) => i.path),
        ['config.password'],
        JSON.stringify(moved),
      );
      assert.match(result.issues[0]!.message, /another server/);
    }
  });
});
