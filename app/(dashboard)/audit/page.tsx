import type { Metadata } from 'next';
import Link from 'next/link';
import { requireActor, requirePageRole } from '@/lib/auth/session';
import { ValidationError } from '@/lib/errors';
import { listAudit } from '@/lib/services/audit';
import type { AuditEntry, Page } from '@/lib/store/types';
import { DataTable, FilterSelect, type Column } from '../_components/data-table';
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

const COLUMNS: ReadonlyArray<Column<AuditEntry>> = [
  { header: 'When', cell: (e) => <Time iso={e.at.toISOString()} /> },
  {
    header: 'Who',
    cell: (e) => (
      <>
        {e.actorName} <span className="muted small">({e.actorType})</span>
      </>
    ),
  },
  { header: 'Action', cell: (e) => <code>{e.action}</code> },
  { header: 'Target', cell: (e) => <Target entry={e} /> },
  { header: 'From', cell: (e) => e.ip ?? '—' },
  { header: 'Changes', cell: (e) => <ChangeList changes={e.changes} /> },
];

/** A job links to its page (unless the entry deleted it); users and tokens are named with their kind. */
function Target({ entry: e }: { entry: AuditEntry }) {
  if (!e.targetType) return '—';
  if (e.targetType === 'job' && e.targetId && e.action !== 'job.delete')
    return <Link href={`/jobs/${e.targetId}`}>{e.targetName ?? e.targetId}</Link>;
  return (
    <span>
      {e.targetName ?? e.targetId} <span className="muted small">({e.targetType})</span>
    </span>
  );
}

function ChangeList({ changes }: { changes: AuditEntry['changes'] }) {
  if (!changes) return '—';
  return (
    <dl className="props small">
      {Object.entries(changes).map(([field, c]) => (
        <div key={field}>
          <dt>{field}</dt>
          <dd>
            <span className="mono">{show(c.before)}</span> → <span className="mono">{show(c.after)}</span>
          </dd>
        </div>
      ))}
    </dl>
  );
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
        <DataTable
          label="Audit log"
          columns={COLUMNS}
          rows={page.items}
          rowKey={(e) => e.id}
          rowAttributes={(e) => ({ 'data-action': e.action })}
        />
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
