import type { Metadata } from 'next';
import Link from 'next/link';
import { requireActor } from '@/lib/auth/session';
import { ALERT_EVENTS } from '@/lib/domain';
import { ValidationError } from '@/lib/errors';
import { listAlertChannelNames } from '@/lib/services/alert-rules';
import { listAlerts } from '@/lib/services/alerts';
import { ALERT_STATUSES, type Alert, type Page } from '@/lib/store/types';
import { AlertTable } from '../_components/alert-table';
import { FilterSelect } from '../_components/data-table';

export const metadata: Metadata = { title: 'Alerts' };

const FILTERS = ['status', 'event', 'jobId'] as const;
type Filter = (typeof FILTERS)[number];
type Search = Promise<Partial<Record<Filter | 'cursor', string | string[]>>>;

function one(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value)?.trim() ?? '';
}

/** Every alert sent (or held back, or given up) to a channel, newest first; any role. */
export default async function AlertsPage({ searchParams }: { searchParams: Search }) {
  const actor = await requireActor('viewer');
  const params = await searchParams;
  const values = Object.fromEntries(FILTERS.map((f) => [f, one(params[f])])) as Record<Filter, string>;
  const cursor = one(params.cursor) || undefined;
  let page: Page<Alert> = { items: [], nextCursor: null };
  let problem: string | null = null;
  try {
    page = await listAlerts(actor, {
      limit: 50,
      cursor,
      status: values.status || undefined,
      event: values.event || undefined,
      jobId: values.jobId || undefined,
    } as Parameters<typeof listAlerts>[1]);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    problem = err.issues.map((i) => `${i.path}: ${i.message}`).join('; ') || err.message;
  }
  const channelNames = await listAlertChannelNames();
  const next = new URLSearchParams();
  for (const f of FILTERS) if (values[f]) next.set(f, values[f]);
  const firstHref = `/alerts${next.size ? `?${next}` : ''}`;
  if (page.nextCursor) next.set('cursor', page.nextCursor);

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Alerts</h1>
          <p className="muted">
            One alert per event and channel, whichever instance saw it first; delivered until the channel accepts it. Newest first.
          </p>
        </div>
      </div>
      <form className="filters" role="search" aria-label="Filter alerts" action="/alerts">
        <FilterSelect
          id="al-status"
          label="Status"
          name="status"
          defaultValue={values.status}
          any="Any status"
          options={[...ALERT_STATUSES]}
        />
        <FilterSelect id="al-event" label="Event" name="event" defaultValue={values.event} any="Any event" options={[...ALERT_EVENTS]} />
        {values.jobId && <input type="hidden" name="jobId" value={values.jobId} />}
        <div className="filters-actions">
          <button type="submit" className="btn btn-primary btn-sm">
            Filter
          </button>
          <Link href="/alerts" className="btn btn-ghost btn-sm">
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
        <p className="empty muted">No alerts match.</p>
      ) : (
        <AlertTable label="Alerts" alerts={page.items} channelNames={channelNames} />
      )}
      {(cursor || page.nextCursor) && (
        <nav className="pager" aria-label="Pages">
          {cursor && <Link href={firstHref}>Newest alerts</Link>}
          {page.nextCursor && <Link href={`/alerts?${next}`}>Older alerts</Link>}
        </nav>
      )}
    </>
  );
}
