import type { PauseRecord } from '@/lib/store/types';
import { Time } from './time';

/** Who paused a job, when and why: "Paused by X at T: note" (the job page). Nothing for a job without a pause record. */
export function PauseRecordLine({ pause }: { pause: PauseRecord | null }) {
  if (!pause) return null;
  return (
    <p className="pause-record" data-testid="pause-record">
      Paused by <strong>{pause.by.name}</strong> at <Time iso={pause.at.toISOString()} />
      {pause.note ? (
        <>
          : <q className="pause-note">{pause.note}</q>
        </>
      ) : null}
    </p>
  );
}

/** The jobs list's short form beside the "paused" badge: "by X: note", the time in its tooltip. */
export function PauseRecordCell({ pause }: { pause: PauseRecord | null }) {
  if (!pause) return null;
  return (
    <span className="muted small pause-cell" data-testid="pause-note" title={`Paused ${pause.at.toISOString()}`}>
      by {pause.by.name}
      {pause.note ? `: ${pause.note}` : ''}
    </span>
  );
}
