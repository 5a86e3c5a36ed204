import type { Metadata } from 'next';
import { requireActor, requirePageRole } from '@/lib/auth/session';
import { listTokens } from '@/lib/services/tokens';
import { USER_ROLES } from '@/lib/store/types';
import { Time } from '../../_components/time';
import { ActionForm } from '../action-form';
import { createTokenAction, revokeTokenAction } from '../actions';

export const metadata: Metadata = { title: 'API tokens' };

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
            Send a token as <code>Authorization: Bearer &lt;token&gt;</code>. It acts with its role. Only a hash is stored: a lost token cannot be
            shown again, revoke it and create another. The <code>API_TOKEN</code> environment variable, if set, is an admin token too.
          </p>
        </div>
      </div>

      <section className="panel" aria-labelledby="new-token-h">
        <h2 id="new-token-h">New token</h2>
        <ActionForm action={createTokenAction} className="filters" label="New token">
          <div className="field">
            <label htmlFor="nt-name">Name</label>
            <input id="nt-name" name="name" required maxLength={100} placeholder="e.g. deploy pipeline" autoComplete="off" />
          </div>
          <div className="field">
            <label htmlFor="nt-role">Role</label>
            <select id="nt-role" name="role" defaultValue="operator">
              {USER_ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </div>
          <div className="filters-actions">
            <button type="submit" className="btn btn-primary btn-sm">
              Create token
            </button>
          </div>
        </ActionForm>
      </section>

      {tokens.length === 0 ? (
        <p className="empty muted">No tokens yet.</p>
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label="API tokens">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Starts with</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id} data-token={t.name}>
                  <td>{t.name}</td>
                  <td>{t.role}</td>
                  <td>
                    <code>{t.prefix}…</code>
                  </td>
                  <td>
                    <Time iso={t.createdAt.toISOString()} />
                    {t.createdBy && <span className="muted small"> by {t.createdBy}</span>}
                  </td>
                  <td>
                    <Time iso={t.lastUsedAt?.toISOString() ?? null} empty="never" />
                  </td>
                  <td>
                    {t.revokedAt ? (
                      <span className="muted">
                        revoked <Time iso={t.revokedAt.toISOString()} relativeOnly />
                      </span>
                    ) : (
                      <ActionForm action={revokeTokenAction.bind(null, t.id)} label={`Revoke ${t.name}`}>
                        <button type="submit" className="btn btn-danger btn-sm">
                          Revoke
                        </button>
                      </ActionForm>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
