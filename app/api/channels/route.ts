import { apiRoute, json, methodNotAllowed, readJsonObject } from '@/lib/api/http';
import { channelJson } from '@/lib/api/serialize';
import { createChannel, listChannels } from '@/lib/services/channels';

export const dynamic = 'force-dynamic';

/** Every channel by name: admins see them whole (secrets masked), other roles id, name and type. */
export const GET = apiRoute(async ({ actor }) => json({ channels: (await listChannels(actor)).map(channelJson) }));

/** `{ name, type, config, dailyCap? }` -> the channel; a webhook channel's signing secret is in this answer once. */
export const POST = apiRoute(async ({ request, actor }) => {
  const { channel, signingSecret } = await createChannel(actor, await readJsonObject(request));
  return json({ ...channelJson(channel), ...(signingSecret ? { signingSecret } : {}) }, 201);
});

const notAllowed = methodNotAllowed(['GET', 'POST']);
export { notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
