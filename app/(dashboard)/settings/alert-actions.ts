'use server';

import { revalidatePath } from 'next/cache';
import { ForbiddenError } from '@/lib/auth/principal';
import { requireActor } from '@/lib/auth/session';
import { AppError, ValidationError } from '@/lib/errors';
import { setAlertDefaults } from '@/lib/services/alert-rules';
import type { SettingsState } from './state';

function field(fd: FormData, name: string): string {
  const value = fd.get(name);
  return typeof value === 'string' ? value.trim() : '';
}

function numberOrText(value: string): number | string | null {
  if (value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : value;
}

/** Settings -> Alerts: replaces the default rules (admin, audited). A row without a channel is no rule. */
export async function saveAlertDefaultsAction(_prev: SettingsState, fd: FormData): Promise<SettingsState> {
  try {
    const actor = await requireActor('admin');
    const count = Math.min(Number(field(fd, 'rules.count')) || 0, 50);
    const rules: Array<Record<string, unknown>> = [];
    for (let i = 0; i < count; i++) {
      const channelId = field(fd, `rules.${i}.channelId`);
      if (channelId === '') continue;
      rules.push({
        channelId,
        tag: field(fd, `rules.${i}.tag`) || null,
        on: fd.getAll(`rules.${i}.on`).filter((v): v is string => typeof v === 'string'),
        throttleSeconds: numberOrText(field(fd, `rules.${i}.throttleSeconds`)) ?? 0,
        slowAfterSeconds: numberOrText(field(fd, `rules.${i}.slowAfterSeconds`)),
      });
    }
    const saved = await setAlertDefaults({ rules }, actor);
    revalidatePath('/settings/alerts');
    return { ok: `${saved.length} default rule${saved.length === 1 ? '' : 's'} saved.` };
  } catch (err) {
    if (err instanceof ValidationError)
      return { error: err.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ') || err.message };
    if (err instanceof ForbiddenError || err instanceof AppError) return { error: err.message };
    throw err;
  }
}
