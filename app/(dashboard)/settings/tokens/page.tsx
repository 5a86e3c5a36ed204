import type { Metadata } from 'next';
import { requireActor, requirePageRole } from '@/lib/auth/session';
import { listTokens, type PublicApiToken } from '@/lib/services/tokens';
import { DataTable, type Column } from '../../_components/data-table';
import { Time } from '../../_components/time';
import { ActionForm } from '../action-form';
import { CreatePanel } from '../create-panel';
import { createTokenAction, revokeTokenAction } from '../actions';

export const metadata: Metadata = { title: 'API tokens' };

const COLUMNS: ReadonlyArray<Column<PublicApiToken>> = [
  { header: 'Name', cell: (t) => t.name },
  { header: 'Role', cell: (t) => t.role },
  { header: 'Starts with', cell: (t) => <code>{t.prefix}…</code> },
  {
    header: 'Created',
    cell: (t) => (
      <>
        <Time iso={t.createdAt.toISOString()} />
        {t.createdBy && <span className="muted small"> by {t.createdBy}</span>}
      </>
    ),
  },
  { header: 'Last used', cell: (t) => <Time iso={t.lastUsedAt?.toISOString() ?? null} empty="never" /> },
  {
    header: 'State',
    cell: (t) =>
      t.revokedAt ? (
        <span className="muted">
          revoked <Time iso={t.revokedAt.toISOString()} relativeOnly />
        </span>
      ) : (
        <ActionForm action={revokeTokenAction.bind(null, t.id)} label={`Revoke ${t.name}`}>
          <button type="submit" className="btn btn-danger btn-sm">
            Revoke
          </button>
        </ActionForm>
      ),
  },
];

/** Admins: API tokens for automation, each scoped to a role; the secret is shown once, at creation. */
export default async function TokensPage() {
  await requirePageRole('admin', '/jobs');
  const tokens = await listTokens(await requireActor('admin'));
  return (
    <>
      <div className="page-head">
        <div>
          <h1>API tokens</h1>
          <p className="muted">
            Send a token as <code>Authorization: Bearer &lt;token&gt;</code>. It acts with its role. Only a hash is stored: a lost token
            cannot be shown again, revoke it and create another. The <code>API_TOKEN</code> environment variable, if set, is an admin token
            too.
          </p>
        </div>
      </div>

      <CreatePanel idPrefix="new-token" title="New token" action={createTokenAction} defaultRole="operator" submitLabel="Create token">
        <div className="field">
          <label htmlFor="nt-name">Name</label>
          <input id="nt-name" name="name" required maxLength={100} placeholder="e.g. deploy pipeline" autoComplete="off" />
        </div>
      </CreatePanel>

      {tokens.length === 0 ? (
        <p className="empty muted">No tokens yet.</p>
      ) : (
        <DataTable
          label="API tokens"
          columns={COLUMNS}
          rows={tokens}
          rowKey={(t) => t.id}
          rowAttributes={(t) => ({ 'data-token': t.name })}
        />
      )}
    </>
  );
}
