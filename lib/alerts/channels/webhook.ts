import { Webhook } from 'standardwebhooks';
import { WEBHOOK_HEADERS, type AlertMessage } from '../../domain';
import { postJson } from './http';

// Webhook channels: the alert as JSON, signed per the Standard Webhooks specification with the channel's own whsec_
// secret. webhook-id is the alert's id, the same on every retry of it, so a receiver deduplicates on it.

/**
 * The documented body (README "Alert channels"): the message's fields, dates as ISO 8601 text, `type` = the event
 * ('failure', 'recovery', 'missed', 'slow', 'cancelled', 'instance-lost', or 'test').
 */
export function webhookBody(message: AlertMessage): Record<string, unknown> {
  return {
    type: message.event,
    id: message.id,
    at: message.at.toISOString(),
    title: message.title,
    text: message.text,
    job: message.job ? { id: message.job.id, name: message.job.name } : null,
    run: message.run
      ? {
          id: message.run.id,
          scheduledFor: message.run.scheduledFor.toISOString(),
          status: message.run.status,
          attempt: message.run.attempt,
        }
      : null,
    instanceId: message.instanceId,
    suppressedCount: message.suppressedCount,
    url: message.url,
  };
}

export async function sendWebhook(
  config: { url: string },
  signingSecret: string,
  message: AlertMessage,
  signal: AbortSignal,
): Promise<void> {
  const body = JSON.stringify(webhookBody(message));
  const sentAt = new Date();
  const headers = {
    [WEBHOOK_HEADERS.id]: message.id,
    [WEBHOOK_HEADERS.timestamp]: String(Math.floor(sentAt.getTime() / 1000)),
    [WEBHOOK_HEADERS.signature]: new Webhook(signingSecret).sign(message.id, sentAt, body),
  };
  await postJson(config.url, body, headers, signal);
}
