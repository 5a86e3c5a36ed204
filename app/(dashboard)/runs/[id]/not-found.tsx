import Link from 'next/link';

export default function RunNotFound() {
  return (
    <div className="empty">
      <h1>Run not found</h1>
      <p className="muted">It may have been removed by retention, or the link is wrong.</p>
      <Link href="/runs">All runs</Link>
    </div>
  );
}
