import type { Metadata } from 'next';
import { requireActor, requirePageRole } from '@/lib/auth/session';
import { ALERT_EVENTS } from '@/lib/domain';
import { getAlertDefaults, listChannelChoices } from '@/lib/services/alert-rules';
import { ActionForm } from '../action-form';
import { saveAlertDefaultsAction } from '../alert-actions';

export const metadata: Metadata = { title: 'Alert defaults' };

/** Admins: alert rules for every job, or for the jobs with a tag, applied besides each job's own rules. */
export default async function AlertDefaultsPage() {
  await requirePageRole('admin', '/jobs');
  const actor = await requireActor('admin');
  const [rules, channels] = await Promise.all([getAlertDefaults(actor), listChannelChoices(actor)]);
  const rows = [...rules, { channelId: '', tag: null, on: ['failure'], throttleSeconds: 0, slowAfterSeconds: null }];
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Alert defaults</h1>
          <p className="muted">
            Rules for every job (no tag) or for the jobs with a tag, applied besides each job&apos;s own rules. An event matched by a job
            rule and a default for the same channel is sent once. <code>instance-lost</code> (an instance stopped sending heartbeats without
            a graceful stop) can only be a default.
          </p>
        </div>
      </div>
      {channels.length === 0 ? (
        <p className="empty muted">No alert channels yet.</p>
      ) : (
        <ActionForm action={saveAlertDefaultsAction} className="form" label="Default alert rules">
          <input type="hidden" name="rules.count" value={rows.length} />
          {rows.map((rule, i) => (
            <fieldset key={i} data-testid={`default-rule-${i}`}>
              <legend>{i === rows.length - 1 ? 'Add a rule' : `Rule ${i + 1}`}</legend>
              <div className="grid-3">
                <div className="field">
                  <label htmlFor={`dr-${i}-channel`}>Channel</label>
                  <select id={`dr-${i}-channel`} name={`rules.${i}.channelId`} defaultValue={rule.channelId}>
                    <option value="">— (no rule)</option>
                    {channels.map((c) => (
                      <option key={c.id} value={c.id}>
                        {c.name} ({c.type})
                      </option>
                    ))}
                  </select>
                </div>
                <div className="field">
                  <label htmlFor={`dr-${i}-tag`}>Only jobs tagged</label>
                  <input id={`dr-${i}-tag`} name={`rules.${i}.tag`} defaultValue={rule.tag ?? ''} placeholder="every job" maxLength={40} />
                </div>
                <div className="field">
                  <label htmlFor={`dr-${i}-throttle`}>Throttle (seconds)</label>
                  <input
                    id={`dr-${i}-throttle`}
                    name={`rules.${i}.throttleSeconds`}
                    type="number"
                    min={0}
                    max={86400}
                    defaultValue={rule.throttleSeconds}
                  />
                </div>
                <div className="field">
                  <label htmlFor={`dr-${i}-slow`}>Slow after (seconds)</label>
                  <input
                    id={`dr-${i}-slow`}
                    name={`rules.${i}.slowAfterSeconds`}
                    type="number"
                    min={1}
                    max={604800}
                    defaultValue={rule.slowAfterSeconds ?? ''}
                  />
                </div>
              </div>
              <div className="field" role="group" aria-label={`Rule ${i + 1} events`}>
                {ALERT_EVENTS.map((event) => (
                  <label key={event} className="checkbox">
                    <input type="checkbox" name={`rules.${i}.on`} value={event} defaultChecked={(rule.on as string[]).includes(event)} />{' '}
                    {event}
                  </label>
                ))}
              </div>
            </fieldset>
          ))}
          <div className="form-actions">
            <button type="submit" className="btn btn-primary">
              Save defaults
            </button>
          </div>
        </ActionForm>
      )}
    </>
  );
}
