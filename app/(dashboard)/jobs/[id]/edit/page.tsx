import type { Metadata } from 'next';
import Link from 'next/link';
import { requireActor, requirePageRole, requireSession } from '@/lib/auth/session';
import { listChannelChoices } from '@/lib/services/alert-rules';
import { jobFormInitial, jobTypeOptions } from '@/lib/presenters/job-form';
import { saveJob } from '../../actions';
import { JobForm } from '../../_components/job-form';
import { loadJob } from '../load';

type Params = Promise<{ id: string }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  return { title: `Edit ${(await loadJob((await params).id)).name}` };
}

export default async function EditJobPage({ params }: { params: Params }) {
  await requireSession();
  const job = await loadJob((await params).id);
  await requirePageRole('operator', `/jobs/${job.id}`);
  const types = jobTypeOptions();
  const channels = await listChannelChoices(await requireActor('operator'));
  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/jobs">Jobs</Link> <span aria-hidden="true">/</span> <Link href={`/jobs/${job.id}`}>{job.name}</Link>{' '}
        <span aria-hidden="true">/</span> <span>Edit</span>
      </nav>
      <h1>Edit {job.name}</h1>
      <JobForm action={saveJob.bind(null, job.id)} initial={jobFormInitial(types, job, channels)} types={types} />
    </>
  );
}
