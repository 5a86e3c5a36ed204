import 'server-only';
import type { z } from 'zod';
import type { AlertMessage } from '../domain';
import { revealChannelConfig } from '../secrets/channels';
import { decryptSecret } from '../secrets';
import type { Channel } from '../store/types';
import { EmailConfigSchema, SlackConfigSchema, WebhookConfigSchema } from '../validation/channel';
import { sendEmail } from './channels/email';
import { sendSlack } from './channels/slack';
import { sendWebhook } from './channels/webhook';

// Sends one alert through one channel. `channel` is as stored (secrets encrypted): they are decrypted here, for the
// send only. Resolves when the channel accepted the alert (a 2xx; the SMTP server took the mail); otherwise throws an
// Error with a short message without secrets (a status, the SMTP response, a timeout, an address the guard refused),
// fit for a log, an alert record or an API answer. The same message (same id) may be sent again: a retry.

function configOf<T>(channel: Channel, schema: z.ZodType<T>): T {
  let revealed;
  try {
    revealed = revealChannelConfig(channel.type, channel.config);
  } catch {
    throw new Error(`channel ${channel.name}: its secrets cannot be decrypted (SECRETS_KEY differs from the one they were saved with)`);
  }
  // Checked again at send: a target refused since it was saved (HTTP_JOB_ALLOW changed) is refused here, before DNS.
  const parsed = schema.safeParse(revealed);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `not sent: channel ${channel.name}: ${issue ? `${issue.path.join('.') || 'config'}: ${issue.message}` : 'its settings are not valid'}`,
    );
  }
  return parsed.data;
}

export async function sendToChannel(channel: Channel, message: AlertMessage, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new Error('not sent: aborted');
  switch (channel.type) {
    case 'webhook': {
      const config = configOf(channel, WebhookConfigSchema);
      if (!channel.signingSecret) throw new Error(`channel ${channel.name}: no signing secret; the alert was not sent unsigned`);
      let secret: string;
      try {
        secret = decryptSecret(channel.signingSecret);
      } catch {
        throw new Error(`channel ${channel.name}: its signing secret cannot be decrypted (SECRETS_KEY differs)`);
      }
      return sendWebhook(config, secret, message, signal);
    }
    case 'slack':
      return sendSlack(configOf(channel, SlackConfigSchema), message, signal);
    case 'email':
      return sendEmail(configOf(channel, EmailConfigSchema), message, signal);
    default:
      throw new Error(`channel ${channel.name}: unknown type ${String((channel as { type: unknown }).type)}`);
  }
}
