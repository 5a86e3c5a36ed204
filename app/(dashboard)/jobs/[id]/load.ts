import 'server-only';
import { notFound } from 'next/navigation';
import { cache } from 'react';
import { requireSession } from '@/lib/auth/session';
import { NotFoundError } from '@/lib/errors';
import { getJob } from '@/lib/services/jobs';
import type { Job } from '@/lib/store/types';

/**
 * The job or the 404 page, for a live session only (generateMetadata calls this too, and renders alongside the
 * layout's check); cached per request so metadata and page share one query.
 */
export const loadJob = cache(async (id: string): Promise<Job> => {
  await requireSession();
  try {
    return await getJob(id);
  } catch (err) {
    if (err instanceof NotFoundError) notFound();
    throw err;
  }
});
