import type { Metadata } from 'next';
import Link from 'next/link';
import { requirePageRole, requireSession } from '@/lib/auth/session';
import { describeSchedule } from '@/lib/schedule';
import { deleteJobAction } from '../../actions';
import { loadJob } from '../load';

type Params = Promise<{ id: string }>;

export const metadata: Metadata = { title: 'Delete job' };

/** The confirmation step: a page of its own, so it works without script and is easy to test. */
export default async function DeleteJobPage({ params }: { params: Params }) {
  await requireSession();
  const job = await loadJob((await params).id);
  await requirePageRole('operator', `/jobs/${job.id}`);
  return (
    <div className="confirm" role="region" aria-labelledby="confirm-h">
      <h1 id="confirm-h">Delete “{job.name}”?</h1>
      <p>The job ({describeSchedule(job.schedule)}) stops running and is removed together with its schedule. This cannot be undone.</p>
      <div className="form-actions">
        <form action={deleteJobAction.bind(null, job.id)}>
          <button type="submit" className="btn btn-danger">
            Delete job
          </button>
        </form>
        <Link href={`/jobs/${job.id}`} className="btn btn-ghost">
          Cancel
        </Link>
      </div>
    </div>
  );
}
