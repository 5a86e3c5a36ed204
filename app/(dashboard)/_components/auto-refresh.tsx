'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';

/** Re-renders the server page every `seconds` while on; operators can switch it off to read calmly. */
export function AutoRefresh({ seconds = 5 }: { seconds?: number }) {
  const router = useRouter();
  const [on, setOn] = useState(true);
  useEffect(() => {
    if (!on) return;
    const id = setInterval(() => {
      // Hidden tabs need no fresh data; the next visible tick catches up.
      if (document.visibilityState === 'visible') router.refresh();
    }, seconds * 1000);
    return () => clearInterval(id);
  }, [on, seconds, router]);
  return (
    <button type="button" className="btn btn-ghost btn-sm" aria-pressed={on} onClick={() => setOn(!on)}>
      Auto-refresh {on ? 'on' : 'off'}
    </button>
  );
}
