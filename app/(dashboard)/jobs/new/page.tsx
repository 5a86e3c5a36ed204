import type { Metadata } from 'next';
import Link from 'next/link';
import { requireActor, requirePageRole } from '@/lib/auth/session';
import { listChannelChoices } from '@/lib/services/alert-rules';
import { jobFormInitial, jobTypeOptions } from '@/lib/presenters/job-form';
import { saveJob } from '../actions';
import { JobForm } from '../_components/job-form';

export const metadata: Metadata = { title: 'New job' };

export default async function NewJobPage() {
  await requirePageRole('operator', '/jobs');
  const types = jobTypeOptions();
  const channels = await listChannelChoices(await requireActor('operator'));
  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/jobs">Jobs</Link> <span aria-hidden="true">/</span> <span>New</span>
      </nav>
      <h1>New job</h1>
      <JobForm action={saveJob.bind(null, null)} initial={jobFormInitial(types, null, channels)} types={types} />
    </>
  );
}
