import type { Metadata } from 'next';
import { requireActor, requirePageRole } from '@/lib/auth/session';
import type { ChannelType } from '@/lib/domain';
import { listChannels, type ChannelView } from '@/lib/services/channels';
import { DataTable, type Column } from '../../_components/data-table';
import { Time } from '../../_components/time';
import { ActionForm } from '../action-form';
import { createChannelAction, deleteChannelAction, revealChannelSecretAction, testChannelAction, updateChannelAction } from '../actions';

export const metadata: Metadata = { title: 'Alert channels' };

const TYPE_TITLES: Record<ChannelType, string> = { webhook: 'Webhook', slack: 'Slack / Mattermost', email: 'E-mail (SMTP)' };

const text = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '');

/** Where a channel sends to, as shown (secrets already masked by the service). */
function target(channel: ChannelView): string {
  const config = channel.config;
  if (channel.type !== 'email') return text(config.url);
  const to = Array.isArray(config.to) ? config.to.join(', ') : '';
  return `${to} via ${text(config.host) || 'SMTP_URL'}${config.port ? `:${text(config.port)}` : ''}`;
}

/** The fields of one channel type; `channel` prefills them (secrets masked: sent back unchanged, they are kept). */
function ChannelFields({ type, idPrefix, channel }: { type: ChannelType; idPrefix: string; channel?: ChannelView }) {
  const config = channel?.config ?? {};
  const id = (name: string) => `${idPrefix}-${name}`;
  return (
    <>
      <div className="field">
        <label htmlFor={id('name')}>Name</label>
        <input id={id('name')} name="name" required maxLength={100} defaultValue={channel?.name} autoComplete="off" />
      </div>
      {type === 'email' ? (
        <>
          <div className="field">
            <label htmlFor={id('from')}>From</label>
            <input id={id('from')} name="from" type="email" required defaultValue={text(config.from)} placeholder="cronplane@example.com" />
          </div>
          <div className="field">
            <label htmlFor={id('to')}>To (comma-separated)</label>
            <input
              id={id('to')}
              name="to"
              required
              defaultValue={Array.isArray(config.to) ? config.to.join(', ') : ''}
              placeholder="oncall@example.com"
            />
          </div>
          <div className="field">
            <label htmlFor={id('host')}>SMTP host (empty: SMTP_URL)</label>
            <input id={id('host')} name="host" defaultValue={text(config.host)} placeholder="smtp.example.com" autoComplete="off" />
          </div>
          <div className="field">
            <label htmlFor={id('port')}>Port</label>
            <input id={id('port')} name="port" inputMode="numeric" defaultValue={text(config.port)} placeholder="587" />
          </div>
          <div className="field">
            <label htmlFor={id('security')}>TLS</label>
            <select id={id('security')} name="security" defaultValue={text(config.security)}>
              <option value="">default (STARTTLS required with a host)</option>
              <option value="starttls">STARTTLS required</option>
              <option value="opportunistic">STARTTLS when offered</option>
              <option value="tls">TLS (port 465)</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor={id('username')}>Username</label>
            <input id={id('username')} name="username" defaultValue={text(config.username)} autoComplete="off" />
          </div>
          <div className="field">
            <label htmlFor={id('password')}>Password</label>
            <input id={id('password')} name="password" type="password" defaultValue={text(config.password)} autoComplete="new-password" />
          </div>
        </>
      ) : (
        <div className="field">
          <label htmlFor={id('url')}>{type === 'slack' ? 'Incoming webhook URL' : 'URL'}</label>
          <input
            id={id('url')}
            name="url"
            required
            defaultValue={text(config.url)}
            placeholder={type === 'slack' ? 'https://hooks.slack.com/services/…' : 'https://example.com/alerts'}
            autoComplete="off"
          />
        </div>
      )}
      <div className="field">
        <label htmlFor={id('dailyCap')}>Daily cap</label>
        <input
          id={id('dailyCap')}
          name="dailyCap"
          inputMode="numeric"
          defaultValue={channel?.dailyCap ?? ''}
          placeholder="no cap"
          aria-describedby={`${id('dailyCap')}-help`}
        />
        <span id={`${id('dailyCap')}-help`} className="sr-only">
          Most alerts per UTC day; empty for no cap
        </span>
      </div>
    </>
  );
}

/** Send a test alert, edit, reveal the signing secret, delete. */
function ChannelActions({ channel }: { channel: ChannelView }) {
  return (
    <>
      <ActionForm action={testChannelAction.bind(null, channel.id)} className="cell-inline" label={`Test ${channel.name}`}>
        <button type="submit" className="btn btn-sm">
          Send test alert
        </button>
      </ActionForm>
      {channel.type === 'webhook' && (
        <ActionForm
          action={revealChannelSecretAction.bind(null, channel.id)}
          className="cell-inline"
          label={`Signing secret of ${channel.name}`}
        >
          <button type="submit" className="btn btn-sm">
            Reveal signing secret
          </button>
        </ActionForm>
      )}
      <details>
        <summary className="small">Edit</summary>
        <ActionForm action={updateChannelAction.bind(null, channel.id, channel.type)} className="filters" label={`Edit ${channel.name}`}>
          <ChannelFields type={channel.type} idPrefix={`edit-${channel.id}`} channel={channel} />
          <div className="filters-actions">
            <button type="submit" className="btn btn-primary btn-sm">
              Save
            </button>
          </div>
        </ActionForm>
      </details>
      <ActionForm action={deleteChannelAction.bind(null, channel.id)} className="cell-inline" label={`Delete ${channel.name}`}>
        <label className="small">
          <input type="checkbox" name="confirm" value="yes" required /> sure
        </label>
        <button type="submit" className="btn btn-danger btn-sm">
          Delete
        </button>
      </ActionForm>
    </>
  );
}

const COLUMNS: ReadonlyArray<Column<ChannelView>> = [
  { header: 'Name', cell: (c) => c.name },
  { header: 'Type', cell: (c) => TYPE_TITLES[c.type] },
  { header: 'Sends to', cell: (c) => <code className="small">{target(c)}</code> },
  { header: 'Daily cap', cell: (c) => (c.dailyCap === null ? <span className="muted">none</span> : c.dailyCap) },
  { header: 'Changed', cell: (c) => <Time iso={c.updatedAt.toISOString()} relativeOnly /> },
  { header: 'Actions', cell: (c) => <ChannelActions channel={c} /> },
];

/** Admins: where alerts go. One form per type; secrets are shown masked and kept when sent back unchanged. */
export default async function ChannelsPage() {
  await requirePageRole('admin', '/jobs');
  const channels = (await listChannels(await requireActor('admin'))) as ChannelView[];
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Alert channels</h1>
          <p className="muted">
            Where alerts go. Webhooks are signed (Standard Webhooks) with the channel&apos;s own secret, shown once when it is created.
            Secrets (URL tokens, SMTP passwords) are stored encrypted and shown masked: leave them as shown to keep them. Private and
            loopback addresses are refused unless <code>HTTP_JOB_ALLOW</code> lists them.
          </p>
        </div>
      </div>

      {(['webhook', 'slack', 'email'] as const).map((type) => (
        <section className="panel" key={type} aria-labelledby={`new-${type}-h`}>
          <details>
            <summary>
              <h2 id={`new-${type}-h`} style={{ display: 'inline' }}>
                New {TYPE_TITLES[type]} channel
              </h2>
            </summary>
            <ActionForm action={createChannelAction.bind(null, type)} className="filters" label={`New ${type} channel`}>
              <ChannelFields type={type} idPrefix={`new-${type}`} />
              <div className="filters-actions">
                <button type="submit" className="btn btn-primary btn-sm">
                  Create channel
                </button>
              </div>
            </ActionForm>
          </details>
        </section>
      ))}

      {channels.length === 0 ? (
        <p className="empty muted">No channels yet.</p>
      ) : (
        <DataTable
          label="Alert channels"
          columns={COLUMNS}
          rows={channels}
          rowKey={(c) => c.id}
          rowAttributes={(c) => ({ 'data-channel': c.name })}
        />
      )}
    </>
  );
}
