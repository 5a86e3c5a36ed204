'use client';

import Link from 'next/link';
import { useActionState, useEffect, useMemo, useState, type ReactNode } from 'react';
import { payloadFields, type PayloadField } from '@/lib/presenters/payload-fields';
import { describeSchedule, nextOccurrences } from '@/lib/schedule';
import { ScheduleSchema, cronExpressionError, isValidTimezone } from '@/lib/validation/schedule';
import { initialFormState, type JobFormInitial, type JobFormState, type JobTypeOption } from '@/lib/presenters/job-form-state';
import { DATE_TIME } from '../../_components/time';

type Kind = 'cron' | 'interval' | 'once';

/** One click to a common schedule; the expression stays editable. */
const CRON_PRESETS: Array<{ label: string; expression: string }> = [
  { label: 'Every minute', expression: '* * * * *' },
  { label: 'Every 5 minutes', expression: '*/5 * * * *' },
  { label: 'Every 15 minutes', expression: '*/15 * * * *' },
  { label: 'Hourly', expression: '0 * * * *' },
  { label: 'Daily at 02:00', expression: '0 2 * * *' },
  { label: 'Weekdays at 09:00', expression: '0 9 * * 1-5' },
  { label: 'Mondays at 08:00', expression: '0 8 * * 1' },
  { label: 'Monthly, 1st at 00:00', expression: '0 0 1 * *' },
];

const OVERLAP_HELP: Record<string, string> = {
  skip: 'skip an occurrence while the previous run is still going',
  allow: 'let runs overlap',
  'queue-one': 'start it after the previous run ends (at most one waiting)',
};
const MISSED_HELP: Record<string, string> = {
  'run-once': 'after downtime, run once for all missed occurrences',
  skip: 'after downtime, record missed occurrences without running them',
  'run-all': 'after downtime, run every missed occurrence',
};

function fieldId(path: string): string {
  return `f-${path.replace(/[^a-zA-Z0-9]+/g, '-')}`;
}

/** A datetime-local value ("2030-01-01T09:00") for an ISO instant, in the browser's zone. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function Field({
  path,
  label,
  hint,
  issues,
  children,
}: {
  path: string;
  label: string;
  hint?: string | null;
  issues: string[];
  children: (props: { id: string; 'aria-invalid': boolean; 'aria-describedby': string | undefined }) => ReactNode;
}) {
  const id = fieldId(path);
  const describedBy = [issues.length ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${issues.length ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-invalid': issues.length > 0, 'aria-describedby': describedBy })}
      {hint && (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {issues.length > 0 && (
        <p className="field-error" id={`${id}-error`} role="alert">
          {issues.join('; ')}
        </p>
      )}
    </div>
  );
}

interface Props {
  action: (state: JobFormState, fd: FormData) => Promise<JobFormState>;
  initial: JobFormInitial;
  types: JobTypeOption[];
}

export function JobForm({ action, initial, types }: Props) {
  const [state, formAction, pending] = useActionState(action, initialFormState);

  // Every input is controlled: React resets uncontrolled forms after an action, and a failed
  // submission must keep what the operator typed.
  const [name, setName] = useState(initial.name);
  const [description, setDescription] = useState(initial.description);
  const [type, setType] = useState(initial.type);
  const [payloadByType, setPayloadByType] = useState(initial.payloadByType);
  const [timeoutSeconds, setTimeoutSeconds] = useState(initial.timeoutSeconds);
  const [overlapPolicy, setOverlapPolicy] = useState(initial.overlapPolicy);
  const [missedPolicy, setMissedPolicy] = useState(initial.missedPolicy);
  const [tags, setTags] = useState(initial.tags);
  const [retryMaxAttempts, setRetryMaxAttempts] = useState(initial.retryMaxAttempts);
  const [retryBackoff, setRetryBackoff] = useState(initial.retryBackoffSeconds);
  const [retryMaxBackoff, setRetryMaxBackoff] = useState(initial.retryMaxBackoffSeconds);
  const [concurrencyLimit, setConcurrencyLimit] = useState(initial.concurrencyLimit);
  const s = initial.schedule;
  const [kind, setKind] = useState<Kind>(s?.kind ?? 'cron');
  const [expression, setExpression] = useState(s?.kind === 'cron' ? s.expression : '*/5 * * * *');
  const [timezone, setTimezone] = useState(s?.kind === 'cron' ? s.timezone : 'UTC');
  const [seconds, setSeconds] = useState(s?.kind === 'interval' ? String(s.seconds) : '60');
  const [atLocal, setAtLocal] = useState('');
  const [zones, setZones] = useState<string[]>([]);
  const [now, setNow] = useState<Date | null>(null);

  useEffect(() => {
    // Browser-only facts, read after hydration so server and client render the same first frame.
    const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!s) setTimezone(browserZone);
    if (s?.kind === 'once') setAtLocal(toLocalInput(s.at));
    else setAtLocal(toLocalInput(new Date(Date.now() + 3600_000).toISOString()));
    setZones(typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []);
    setNow(new Date());
    const id = setInterval(() => setNow(new Date()), 15_000);
    return () => clearInterval(id);
    // Runs once: the initial schedule never changes for a mounted form.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const issuesAt = (path: string) => state.issues.filter((i) => i.path === path).map((i) => i.message);
  const selectedType = types.find((t) => t.name === type);
  const fields: PayloadField[] = useMemo(() => (selectedType ? payloadFields(selectedType.schema) : []), [selectedType]);
  const payloadValues = payloadByType[type] ?? {};
  const setPayload = (field: string, value: string | boolean) =>
    setPayloadByType((prev) => ({ ...prev, [type]: { ...(prev[type] ?? {}), [field]: value } }));

  const atIso = atLocal && !Number.isNaN(new Date(atLocal).getTime()) ? new Date(atLocal).toISOString() : '';

  // Issues the fields below do not show (e.g. "schedule" as a whole) go to the summary on top.
  const shownPaths = new Set([
    'name',
    'description',
    'type',
    'payload',
    'timeoutSeconds',
    'overlapPolicy',
    'missedPolicy',
    'tags',
    'retry',
    'retry.maxAttempts',
    'retry.backoffSeconds',
    'retry.maxBackoffSeconds',
    'concurrencyLimit',
    'schedule.kind',
    ...(kind === 'cron' ? ['schedule.expression', 'schedule.timezone'] : []),
    ...(kind === 'interval' ? ['schedule.seconds'] : []),
    ...(kind === 'once' ? ['schedule.at'] : []),
    ...fields.map((f) => `payload.${f.name}`),
  ]);
  const otherIssues = state.issues.filter((i) => !shownPaths.has(i.path) && !i.path.startsWith('tags.'));
  const tagIssues = state.issues.filter((i) => i.path.startsWith('tags')).map((i) => i.message);

  const preview = useMemo(() => {
    if (!now) return null;
    const candidate =
      kind === 'cron'
        ? { kind, expression, timezone }
        : kind === 'interval'
          ? { kind, seconds: Number(seconds) }
          : { kind, at: atIso };
    if (kind === 'cron') {
      const err = cronExpressionError(expression);
      if (err) return { error: `Invalid cron expression: ${err}` };
      if (!isValidTimezone(timezone)) return { error: `Unknown time zone “${timezone.trim()}”: use an IANA name such as Europe/Berlin or UTC` };
    }
    const parsed = ScheduleSchema.safeParse(candidate);
    if (!parsed.success) return { error: parsed.error.issues[0]?.message ?? 'invalid schedule' };
    return { words: describeSchedule(parsed.data), next: nextOccurrences(parsed.data, now, now, 5) };
  }, [kind, expression, timezone, seconds, atIso, now]);

  const zoneFormat = useMemo(() => {
    const tz = kind === 'cron' && isValidTimezone(timezone) ? timezone : undefined;
    return new Intl.DateTimeFormat(undefined, { weekday: 'short', ...DATE_TIME, timeZone: tz, timeZoneName: 'short' });
  }, [kind, timezone]);

  return (
    <form action={formAction} className="form" noValidate>
      {(state.message || otherIssues.length > 0) && (
        <div className="alert alert-error" role="alert">
          {state.message && <p>{state.message}</p>}
          {otherIssues.map((i) => (
            <p key={`${i.path}:${i.message}`}>
              {i.path ? <code>{i.path}</code> : null} {i.message}
            </p>
          ))}
        </div>
      )}
      {state.issues.length > 0 && !state.message && otherIssues.length === 0 && (
        <p className="sr-only" role="status">
          The job was not saved: {state.issues.length} field{state.issues.length === 1 ? '' : 's'} need attention.
        </p>
      )}

      <fieldset>
        <legend>Job</legend>
        <Field path="name" label="Name" issues={issuesAt('name')}>
          {(p) => <input {...p} name="name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" maxLength={200} />}
        </Field>
        <Field path="description" label="Description" hint="Optional" issues={issuesAt('description')}>
          {(p) => <textarea {...p} name="description" rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />}
        </Field>
        <Field path="type" label="Type" hint={selectedType?.description} issues={issuesAt('type')}>
          {(p) => (
            <select {...p} name="type" value={type} onChange={(e) => setType(e.target.value)}>
              {types.map((t) => (
                <option key={t.name} value={t.name}>
                  {t.title} ({t.name})
                </option>
              ))}
            </select>
          )}
        </Field>
      </fieldset>

      <fieldset>
        <legend>Payload</legend>
        {issuesAt('payload').length > 0 && (
          <p className="field-error" role="alert">
            {issuesAt('payload').join('; ')}
          </p>
        )}
        {fields.length === 0 && <p className="muted">This type takes no payload.</p>}
        {fields.map((f) => (
          <PayloadInput key={`${type}.${f.name}`} field={f} value={payloadValues[f.name]} onChange={(v) => setPayload(f.name, v)} issues={issuesAt(`payload.${f.name}`)} />
        ))}
      </fieldset>

      <fieldset>
        <legend>Schedule</legend>
        <div className="field">
          <span className="label" id="kind-label">
            Runs
          </span>
          <div className="segmented" role="radiogroup" aria-labelledby="kind-label">
            {(['cron', 'interval', 'once'] as const).map((k) => (
              <label key={k} className="segment">
                <input type="radio" name="schedule.kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
                <span>{k === 'cron' ? 'On a cron schedule' : k === 'interval' ? 'Every N seconds' : 'Once'}</span>
              </label>
            ))}
          </div>
          {issuesAt('schedule.kind').length > 0 && <p className="field-error">{issuesAt('schedule.kind').join('; ')}</p>}
        </div>

        {kind === 'cron' && (
          <div className="field">
            <span className="label" id="presets-label">
              Presets
            </span>
            <div className="presets" role="group" aria-labelledby="presets-label">
              {CRON_PRESETS.map((p) => (
                <button key={p.expression} type="button" className="btn btn-sm preset" aria-pressed={expression.trim() === p.expression} onClick={() => setExpression(p.expression)}>
                  {p.label}
                </button>
              ))}
            </div>
          </div>
        )}
        {kind === 'cron' && (
          <div className="grid-2">
            <Field path="schedule.expression" label="Cron expression" hint="minute hour day month weekday; 6 fields = seconds first" issues={issuesAt('schedule.expression')}>
              {(p) => <input {...p} name="schedule.expression" className="mono" value={expression} onChange={(e) => setExpression(e.target.value)} autoComplete="off" spellCheck={false} />}
            </Field>
            <Field path="schedule.timezone" label="Time zone" hint="IANA name, e.g. Europe/Berlin" issues={issuesAt('schedule.timezone')}>
              {(p) => (
                <>
                  <input {...p} name="schedule.timezone" list="tz-list" value={timezone} onChange={(e) => setTimezone(e.target.value)} autoComplete="off" spellCheck={false} />
                  <datalist id="tz-list">
                    {zones.map((z) => (
                      <option key={z} value={z} />
                    ))}
                  </datalist>
                </>
              )}
            </Field>
          </div>
        )}
        {kind === 'interval' && (
          <Field path="schedule.seconds" label="Interval (seconds)" issues={issuesAt('schedule.seconds')}>
            {(p) => <input {...p} name="schedule.seconds" type="number" inputMode="numeric" min={1} step={1} value={seconds} onChange={(e) => setSeconds(e.target.value)} />}
          </Field>
        )}
        {kind === 'once' && (
          <Field path="schedule.at" label="Run at (your local time)" issues={issuesAt('schedule.at')}>
            {(p) => (
              <>
                <input {...p} type="datetime-local" step={1} value={atLocal} onChange={(e) => setAtLocal(e.target.value)} />
                {/* The server has no idea of the browser's zone: send the instant, not the wall-clock text. */}
                <input type="hidden" name="schedule.at" value={atIso} />
              </>
            )}
          </Field>
        )}

        <div className="preview" aria-live="polite">
          {preview === null ? (
            <p className="muted">Preview loads…</p>
          ) : 'error' in preview ? (
            <p className="preview-error" data-testid="schedule-error">
              {preview.error}
            </p>
          ) : (
            <>
              <p className="preview-words" data-testid="schedule-words">
                {preview.words}
              </p>
              {preview.next.length > 0 ? (
                <>
                  <p className="muted small">Next {preview.next.length} {kind === 'cron' ? `(in ${timezone})` : '(your time)'}:</p>
                  <ol className="occurrences">
                    {preview.next.map((d) => (
                      <li key={d.getTime()}>
                        <time dateTime={d.toISOString()}>{zoneFormat.format(d)}</time>
                      </li>
                    ))}
                  </ol>
                </>
              ) : (
                <p className="muted">No future occurrence.</p>
              )}
            </>
          )}
        </div>
      </fieldset>

      <fieldset>
        <legend>Policies</legend>
        <div className="grid-3">
          <Field path="timeoutSeconds" label="Timeout (seconds)" hint="A run still going after this is marked timed-out" issues={issuesAt('timeoutSeconds')}>
            {(p) => <input {...p} name="timeoutSeconds" type="number" inputMode="numeric" min={1} max={86400} value={timeoutSeconds} onChange={(e) => setTimeoutSeconds(e.target.value)} />}
          </Field>
          <Field path="overlapPolicy" label="When still running" hint={OVERLAP_HELP[overlapPolicy]} issues={issuesAt('overlapPolicy')}>
            {(p) => (
              <select {...p} name="overlapPolicy" value={overlapPolicy} onChange={(e) => setOverlapPolicy(e.target.value)}>
                {initial.overlapPolicies.map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field path="missedPolicy" label="Missed occurrences" hint={MISSED_HELP[missedPolicy]} issues={issuesAt('missedPolicy')}>
            {(p) => (
              <select {...p} name="missedPolicy" value={missedPolicy} onChange={(e) => setMissedPolicy(e.target.value)}>
                {initial.missedPolicies.map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <Field path="concurrencyLimit" label="Concurrency limit" hint="Most runs of this job at once across the cluster; empty = no limit" issues={issuesAt('concurrencyLimit')}>
          {(p) => <input {...p} name="concurrencyLimit" type="number" inputMode="numeric" min={1} max={1000} step={1} value={concurrencyLimit} onChange={(e) => setConcurrencyLimit(e.target.value)} placeholder="no limit" />}
        </Field>
        <Field path="tags" label="Tags" hint="Separated by commas or spaces" issues={tagIssues}>
          {(p) => <input {...p} name="tags" value={tags} onChange={(e) => setTags(e.target.value)} autoComplete="off" />}
        </Field>
      </fieldset>

      <fieldset>
        <legend>Retries</legend>
        {issuesAt('retry').length > 0 && (
          <p className="field-error" role="alert">
            {issuesAt('retry').join('; ')}
          </p>
        )}
        <div className="grid-3">
          <Field path="retry.maxAttempts" label="Max attempts" hint="The first included; 1 = no retry" issues={issuesAt('retry.maxAttempts')}>
            {(p) => <input {...p} name="retry.maxAttempts" type="number" inputMode="numeric" min={1} max={10} step={1} value={retryMaxAttempts} onChange={(e) => setRetryMaxAttempts(e.target.value)} />}
          </Field>
          <Field path="retry.backoffSeconds" label="Backoff (seconds)" hint="Before the first retry; doubles each retry" issues={issuesAt('retry.backoffSeconds')}>
            {(p) => <input {...p} name="retry.backoffSeconds" type="number" inputMode="numeric" min={1} max={86400} step={1} value={retryBackoff} onChange={(e) => setRetryBackoff(e.target.value)} />}
          </Field>
          <Field path="retry.maxBackoffSeconds" label="Backoff cap (seconds)" hint="Longest wait between retries" issues={issuesAt('retry.maxBackoffSeconds')}>
            {(p) => <input {...p} name="retry.maxBackoffSeconds" type="number" inputMode="numeric" min={1} max={86400} step={1} value={retryMaxBackoff} onChange={(e) => setRetryMaxBackoff(e.target.value)} />}
          </Field>
        </div>
      </fieldset>

      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={pending}>
          {pending ? 'Saving…' : initial.jobId ? 'Save changes' : 'Create job'}
        </button>
        <Link className="btn btn-ghost" href={initial.jobId ? `/jobs/${initial.jobId}` : '/jobs'}>
          Cancel
        </Link>
      </div>
    </form>
  );
}

function PayloadInput({
  field,
  value,
  onChange,
  issues,
}: {
  field: PayloadField;
  value: string | boolean | undefined;
  onChange: (value: string | boolean) => void;
  issues: string[];
}) {
  const path = `payload.${field.name}`;
  const name = path;
  const text = typeof value === 'string' ? value : '';
  const defaultHint = field.defaultValue !== undefined && field.kind !== 'boolean' && field.kind !== 'record' ? `default ${JSON.stringify(field.defaultValue)}` : null;
  const hint = [field.description, field.kind === 'record' ? 'one "Name: value" per line' : null, defaultHint, field.required ? null : 'optional']
    .filter(Boolean)
    .join(' · ');
  const label = field.required ? `${field.label} (required)` : field.label;

  if (field.kind === 'boolean') {
    const id = fieldId(path);
    return (
      <div className="field field-check">
        <input id={id} type="checkbox" name={name} checked={value === true} onChange={(e) => onChange(e.target.checked)} aria-invalid={issues.length > 0} aria-describedby={issues.length ? `${id}-error` : undefined} />
        <label htmlFor={id}>{field.label}</label>
        {issues.length > 0 && (
          <p className="field-error" id={`${id}-error`}>
            {issues.join('; ')}
          </p>
        )}
      </div>
    );
  }
  return (
    <Field path={path} label={label} hint={hint} issues={issues}>
      {(p) => {
        switch (field.kind) {
          case 'enum':
            return (
              <select {...p} name={name} value={text} onChange={(e) => onChange(e.target.value)}>
                {!field.required && field.defaultValue === undefined && <option value="">(none)</option>}
                {field.options.map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
            );
          case 'number':
          case 'integer':
            return (
              <input {...p} name={name} type="number" inputMode="numeric" step={field.kind === 'integer' ? 1 : 'any'} min={field.min ?? undefined} max={field.max ?? undefined} value={text} onChange={(e) => onChange(e.target.value)} />
            );
          case 'text':
          case 'record':
          case 'json':
            return <textarea {...p} name={name} className={field.kind === 'text' ? undefined : 'mono'} rows={field.kind === 'text' ? 3 : 3} value={text} onChange={(e) => onChange(e.target.value)} spellCheck={false} />;
          default:
            return <input {...p} name={name} type={field.format === 'uri' ? 'url' : 'text'} value={text} onChange={(e) => onChange(e.target.value)} autoComplete="off" spellCheck={false} />;
        }
      }}
    </Field>
  );
}
