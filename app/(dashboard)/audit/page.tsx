import type { Metadata } from 'next';
import Link from 'next/link';
import { requireActor, requirePageRole } from '@/lib/auth/session';
import { ValidationError } from '@/lib/errors';
import { listAudit } from '@/lib/services/audit';
import type { AuditEntry, Page } from '@/lib/store/types';
import { DataTable, FilterSelect } from '../_components/data-table';
import { Time } from '../_components/time';

export const metadata: Metadata = { title: 'Audit log' };

const FILTERS = ['actor', 'action', 'targetType', 'targetId', 'from', 'to'] as const;
type Filter = (typeof FILTERS)[number];
type Search = Promise<Partial<Record<Filter | 'cursor', string | string[]>>>;

const ACTIONS = [
  'job.create',
  'job.update',
  'job.delete',
  'job.pause',
  'job.resume',
  'job.run',
  'user.create',
  'user.update',
  'user.delete',
  'session.revoke',
  'token.create',
  'token.revoke',
  'login.success',
  'login.failure',
  'logout',
];
const TARGET_TYPES = ['job', 'user', 'token'];

function one(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value)?.trim() ?? '';
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Admins: who did what to which job, user or token, when (database time) and from where. Read-only. */
export default async function AuditPage({ searchParams }: { searchParams: Search }) {
  await requirePageRole('admin', '/jobs');
  const actor = await requireActor('admin');
  const params = await searchParams;
  const values = Object.fromEntries(FILTERS.map((f) => [f, one(params[f])])) as Record<Filter, string>;
  const cursor = one(params.cursor) || undefined;
  let page: Page<AuditEntry> = { items: [], nextCursor: null };
  let problem: string | null = null;
  try {
    page = await listAudit(actor, {
      limit: 50,
      cursor,
      actor: values.actor || undefined,
      action: values.action || undefined,
      targetType: values.targetType || undefined,
      targetId: values.targetId || undefined,
      // Times in the form are UTC (the label says so; a time without an offset is UTC to the schema).
      from: values.from || undefined,
      to: values.to || undefined,
    });
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    problem = err.issues.map((i) => `${i.path}: ${i.message}`).join('; ') || err.message;
  }
  const next = new URLSearchParams();
  for (const f of FILTERS) if (values[f]) next.set(f, values[f]);
  const firstHref = `/audit${next.size ? `?${next}` : ''}`;
  if (page.nextCursor) next.set('cursor', page.nextCursor);

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Audit log</h1>
          <p className="muted">Every change and sign-in, newest first. Entries cannot be edited or deleted from the app.</p>
        </div>
      </div>
      <form className="filters" role="search" aria-label="Filter audit log" action="/audit">
        <div className="field">
          <label htmlFor="au-actor">Actor</label>
          <input id="au-actor" name="actor" defaultValue={values.actor} placeholder="username or token name" maxLength={200} />
        </div>
        <FilterSelect id="au-action" label="Action" name="action" defaultValue={values.action} any="All actions" options={ACTIONS} />
        <FilterSelect id="au-tt" label="Target type" name="targetType" defaultValue={values.targetType} any="Any" options={TARGET_TYPES} />
        <div className="field">
          <label htmlFor="au-tid">Target id</label>
          <input id="au-tid" name="targetId" defaultValue={values.targetId} maxLength={200} />
        </div>
        <div className="field">
          <label htmlFor="au-from">From (UTC)</label>
          <input id="au-from" name="from" type="datetime-local" defaultValue={values.from.replace(/Z$/, '')} />
        </div>
        <div className="field">
          <label htmlFor="au-to">To (UTC)</label>
          <input id="au-to" name="to" type="datetime-local" defaultValue={values.to.replace(/Z$/, '')} />
        </div>
        <div className="filters-actions">
          <button type="submit" className="btn btn-primary btn-sm">
            Filter
          </button>
          <Link href="/audit" className="btn btn-ghost btn-sm">
            Clear
          </Link>
        </div>
      </form>
      {problem && (
        <p className="alert alert-error" role="alert">
          {problem}
        </p>
      )}
      {page.items.length === 0 ? (
        <p className="empty muted">No entries match.</p>
      ) : (
        <DataTable label="Audit log" columns={['When', 'Who', 'Action', 'Target', 'From', 'Changes']}>
          {page.items.map((e) => (
            <tr key={e.id} data-action={e.action}>
              <td>
                <Time iso={e.at.toISOString()} />
              </td>
              <td>
                {e.actorName} <span className="muted small">({e.actorType})</span>
              </td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>
                {e.targetType ? (
                  e.targetType === 'job' && e.targetId && e.action !== 'job.delete' ? (
                    <Link href={`/jobs/${e.targetId}`}>{e.targetName ?? e.targetId}</Link>
                  ) : (
                    <span>
                      {e.targetName ?? e.targetId} <span className="muted small">({e.targetType})</span>
                    </span>
                  )
                ) : (
                  '—'
                )}
              </td>
              <td>{e.ip ?? '—'}</td>
              <td>
                {e.changes ? (
                  <dl className="props small">
                    {Object.entries(e.changes).map(([field, c]) => (
                      <div key={field}>
                        <dt>{field}</dt>
                        <dd>
                          <span className="mono">{show(c.before)}</span> → <span className="mono">{show(c.after)}</span>
                        </dd>
                      </div>
                    ))}
                  </dl>
                ) : (
                  '—'
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {(cursor || page.nextCursor) && (
        <nav className="pager" aria-label="Pages">
          {cursor && <Link href={firstHref}>Newest entries</Link>}
          {page.nextCursor && <Link href={`/audit?${next}`}>Older entries</Link>}
        </nav>
      )}
    </>
  );
}
