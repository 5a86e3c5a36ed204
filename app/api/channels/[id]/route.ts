import { apiRoute, json, methodNotAllowed, noContent, readJsonObject } from '@/lib/api/http';
import { channelJson } from '@/lib/api/serialize';
import { deleteChannel, getChannel, updateChannel } from '@/lib/services/channels';

export const dynamic = 'force-dynamic';

export const GET = apiRoute<{ id: string }>(async ({ params, actor }) => json(channelJson(await getChannel(actor, params.id))));

/** Any of `{ name, type + config, dailyCap }`; masked secrets sent back keep the stored ones. */
export const PATCH = apiRoute<{ id: string }>(async ({ request, params, actor }) =>
  json(channelJson(await updateChannel(actor, params.id, await readJsonObject(request)))),
);

export const DELETE = apiRoute<{ id: string }>(async ({ params, actor }) => {
  await deleteChannel(actor, params.id);
  return noContent();
});

const notAllowed = methodNotAllowed(['GET', 'PATCH', 'DELETE']);
export { notAllowed as POST, notAllowed as PUT };
