import type { AlertMessage } from '../../domain';
import { postJson } from './http';

// Slack incoming webhooks (Mattermost's accept the same payload): {"text": ...} with Slack's mrkdwn. The URL is the
// secret; errors name its origin only.

/** Slack's three control characters in text: &, < and > (https://api.slack.com/reference/surfaces/formatting#escaping). */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackText(message: AlertMessage): string {
  const lines = [`*${escape(message.title)}*`];
  if (message.text) lines.push(escape(message.text));
  if (message.suppressedCount > 0)
    lines.push(
      `(${message.suppressedCount} more alert${message.suppressedCount === 1 ? '' : 's'} of this rule held back since the last one)`,
    );
  if (message.url) lines.push(`<${message.url}|Open in Cronplane>`);
  return lines.join('\n');
}

export async function sendSlack(config: { url: string }, message: AlertMessage, signal: AbortSignal): Promise<void> {
  await postJson(config.url, JSON.stringify({ text: slackText(message) }), {}, signal);
}
