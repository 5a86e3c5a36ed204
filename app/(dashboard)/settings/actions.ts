'use server';

import { revalidatePath } from 'next/cache';
import { ForbiddenError } from '@/lib/auth/principal';
import { requireActor } from '@/lib/auth/session';
import { AppError, ValidationError } from '@/lib/errors';
import { createChannel, deleteChannel, revealChannelSigningSecret, testChannel, updateChannel } from '@/lib/services/channels';
import { createToken, revokeToken } from '@/lib/services/tokens';
import { createUser, deleteUser, revokeSessions, updateUser } from '@/lib/services/users';
import type { SettingsState } from './state';

function field(fd: FormData, name: string): string {
  const value = fd.get(name);
  return typeof value === 'string' ? value : '';
}

/**
 * Every settings action: the admin role is checked on the server (requireActor, and again in the service), errors
 * become a message on the form, never an error page.
 */
async function run(
  path: string,
  work: (actor: Awaited<ReturnType<typeof requireActor>>) => Promise<SettingsState>,
): Promise<SettingsState> {
  try {
    const actor = await requireActor('admin');
    const result = await work(actor);
    revalidatePath(path);
    return result;
  } catch (err) {
    if (err instanceof ValidationError)
      return { error: err.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ') || err.message };
    if (err instanceof ForbiddenError || err instanceof AppError) return { error: err.message };
    throw err;
  }
}

export async function createUserAction(_prev: SettingsState, fd: FormData): Promise<SettingsState> {
  return run('/settings/users', async (actor) => {
    const user = await createUser(actor, { username: field(fd, 'username'), password: field(fd, 'password'), role: field(fd, 'role') });
    return { ok: `User ${user.username} created.` };
  });
}

export async function changeRoleAction(id: string, _prev: SettingsState, fd: FormData): Promise<SettingsState> {
  return run('/settings/users', async (actor) => {
    const user = await updateUser(actor, id, { role: field(fd, 'role') });
    return { ok: `${user.username} is now ${user.role}.` };
  });
}

export async function setDisabledAction(id: string, disabled: boolean, _prev: SettingsState, _fd: FormData): Promise<SettingsState> {
  return run('/settings/users', async (actor) => {
    const user = await updateUser(actor, id, { disabled });
    return { ok: `${user.username} ${disabled ? 'disabled' : 'enabled'}.` };
  });
}

export async function resetPasswordAction(id: string, _prev: SettingsState, fd: FormData): Promise<SettingsState> {
  return run('/settings/users', async (actor) => {
    const user = await updateUser(actor, id, { password: field(fd, 'password') });
    return { ok: `Password of ${user.username} reset; their sessions ended.` };
  });
}

export async function revokeSessionsAction(id: string, _prev: SettingsState, _fd: FormData): Promise<SettingsState> {
  return run('/settings/users', async (actor) => {
    const count = await revokeSessions(actor, id);
    return { ok: `${count} session${count === 1 ? '' : 's'} ended.` };
  });
}

export async function deleteUserAction(id: string, _prev: SettingsState, fd: FormData): Promise<SettingsState> {
  return run('/settings/users', async (actor) => {
    if (field(fd, 'confirm') !== 'yes') return { error: 'Tick the box to confirm the deletion.' };
    await deleteUser(actor, id);
    return { ok: 'User deleted.' };
  });
}

export async function createTokenAction(_prev: SettingsState, fd: FormData): Promise<SettingsState> {
  return run('/settings/tokens', async (actor) => {
    const { token, secret } = await createToken(actor, { name: field(fd, 'name'), role: field(fd, 'role') });
    return { ok: `Token ${token.name} created (${token.role}).`, secret };
  });
}

export async function revokeTokenAction(id: string, _prev: SettingsState, _fd: FormData): Promise<SettingsState> {
  return run('/settings/tokens', async (actor) => {
    await revokeToken(actor, id);
    return { ok: 'Token revoked.' };
  });
}

// ---- alert channels ------------------------------------------------------------------------------------------------

/** A channel's config from its form: the fields of its type; empty optional fields left out (the service checks it all). */
function channelConfig(type: string, fd: FormData): Record<string, unknown> {
  if (type !== 'email') return { url: field(fd, 'url').trim() };
  const config: Record<string, unknown> = {
    from: field(fd, 'from').trim(),
    to: field(fd, 'to')
      .split(/[\s,;]+/)
      .filter((address) => address !== ''),
  };
  for (const name of ['host', 'security', 'username', 'password']) {
    const value = field(fd, name).trim();
    if (value !== '') config[name] = value;
  }
  const port = field(fd, 'port').trim();
  if (port !== '') config.port = /^\d+$/.test(port) ? Number(port) : port;
  return config;
}

function dailyCap(fd: FormData): unknown {
  const value = field(fd, 'dailyCap').trim();
  if (value === '') return null;
  return /^\d+$/.test(value) ? Number(value) : value;
}

export async function createChannelAction(type: string, _prev: SettingsState, fd: FormData): Promise<SettingsState> {
  return run('/settings/channels', async (actor) => {
    const { channel, signingSecret } = await createChannel(actor, {
      name: field(fd, 'name'),
      type,
      config: channelConfig(type, fd),
      dailyCap: dailyCap(fd),
    });
    return {
      ok: `Channel ${channel.name} created.`,
      ...(signingSecret
        ? { secret: signingSecret, secretNote: 'Copy the signing secret into your receiver now (Reveal shows it again).' }
        : {}),
    };
  });
}

export async function updateChannelAction(id: string, type: string, _prev: SettingsState, fd: FormData): Promise<SettingsState> {
  return run('/settings/channels', async (actor) => {
    const channel = await updateChannel(actor, id, {
      name: field(fd, 'name'),
      type,
      config: channelConfig(type, fd),
      dailyCap: dailyCap(fd),
    });
    return { ok: `Channel ${channel.name} saved.` };
  });
}

export async function deleteChannelAction(id: string, _prev: SettingsState, fd: FormData): Promise<SettingsState> {
  return run('/settings/channels', async (actor) => {
    if (field(fd, 'confirm') !== 'yes') return { error: 'Tick the box to confirm the deletion.' };
    await deleteChannel(actor, id);
    return { ok: 'Channel deleted.' };
  });
}

export async function testChannelAction(id: string, _prev: SettingsState, _fd: FormData): Promise<SettingsState> {
  return run('/settings/channels', async (actor) => {
    const result = await testChannel(actor, id);
    return result.ok ? { ok: 'Test alert sent: the channel accepted it.' } : { error: `Not sent: ${result.error}` };
  });
}

export async function revealChannelSecretAction(id: string, _prev: SettingsState, _fd: FormData): Promise<SettingsState> {
  return run('/settings/channels', async (actor) => ({
    secret: await revealChannelSigningSecret(actor, id),
    secretNote: 'The signing secret (this reveal is audited):',
  }));
}
