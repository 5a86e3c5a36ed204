import Link from 'next/link';

export default function JobNotFound() {
  return (
    <div className="empty">
      <h1>Job not found</h1>
      <p className="muted">There is no job with this id. It may have been deleted.</p>
      <Link href="/jobs" className="btn">
        Back to jobs
      </Link>
    </div>
  );
}
