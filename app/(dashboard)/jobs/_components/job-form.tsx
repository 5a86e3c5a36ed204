'use client';

import Link from 'next/link';
import { useActionState, useEffect, useMemo, useState } from 'react';
import { FormProvider, useController, useForm, useFormContext, useWatch } from 'react-hook-form';
import {
  SCHEDULE_KINDS,
  initialFormState,
  type JobFormInitial,
  type JobFormState,
  type JobFormValues,
  type JobTypeOption,
  type ScheduleKind,
} from '@/lib/presenters/job-form-state';
import { payloadFields } from '@/lib/presenters/payload-fields';
import { describeSchedule, nextOccurrences } from '@/lib/schedule';
import { ScheduleSchema, cronExpressionError, isValidTimezone } from '@/lib/validation/schedule';
import { DATE_TIME } from '../../_components/time';
import { Field, GroupError, IssueClaims, PayloadInput, serverErrors, useUnclaimedIssues, type InputProps } from './job-form-fields';

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

const KIND_LABELS: Record<ScheduleKind, string> = { cron: 'On a cron schedule', interval: 'Every N seconds', once: 'Once' };

const OVERLAP_HELP: Record<string, string> = {
  skip: 'skip an occurrence while the previous run is still going',
  allow: 'let runs overlap',
  'queue-one': 'start it after the previous run ends (at most one waiting)',
  replace: 'cancel the previous run and start once it has stopped',
};
const MISSED_HELP: Record<string, string> = {
  'run-once': 'after downtime, run once for all missed occurrences',
  skip: 'after downtime, record missed occurrences without running them',
  'run-all': 'after downtime, run every missed occurrence',
};

/** A datetime-local value ("2030-01-01T09:00") for an ISO instant, in the browser's zone. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The instant a datetime-local value means in the browser's zone, or '' while it is incomplete. */
function localToIso(local: string): string {
  const d = new Date(local);
  return local && !Number.isNaN(d.getTime()) ? d.toISOString() : '';
}

interface Props {
  action: (state: JobFormState, fd: FormData) => Promise<JobFormState>;
  initial: JobFormInitial;
  types: JobTypeOption[];
}

/**
 * Create or edit a job. Every input is bound to one react-hook-form state of the shape JobFormValuesSchema gives
 * (controlled inputs: React resets a form after its action, and a failed submission must keep what was typed).
 * The form posts its inputs to the server action, which validates with the job's zod schemas; its issues come back
 * as the form's errors, each shown at the field of its path.
 */
export function JobForm({ action, initial, types }: Props) {
  const [state, formAction, pending] = useActionState(action, initialFormState);
  const errors = useMemo(() => serverErrors(state.issues), [state.issues]);
  // No client-side rules: the server decides (its issues stay until its next answer, the focus stays where it was).
  const form = useForm<JobFormValues>({ defaultValues: initial.values, errors, shouldFocusError: false });
  const { setValue } = form;
  const { jobId, onceAt } = initial;

  useEffect(() => {
    // Browser-only facts, read after hydration so server and client render the same first frame: a new job's zone
    // is the browser's, and "Once" shows its time (or an hour from now) in the browser's zone.
    if (jobId === null) setValue('schedule.timezone', Intl.DateTimeFormat().resolvedOptions().timeZone);
    setValue('schedule.atLocal', toLocalInput(onceAt ?? new Date(Date.now() + 3600_000).toISOString()));
  }, [jobId, onceAt, setValue]);

  return (
    <FormProvider {...form}>
      <IssueClaims>
        <form action={formAction} className="form" noValidate>
          <Summary state={state} />
          <JobFieldset types={types} nameMaxLength={initial.nameMaxLength} />
          <PayloadFieldset types={types} />
          <ScheduleFieldset />
          <PoliciesFieldset overlapPolicies={initial.overlapPolicies} missedPolicies={initial.missedPolicies} />
          <RetriesFieldset />
          <AlertsFieldset channels={initial.channels} events={initial.alertEvents} rows={initial.values.alerts.length} />
          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={pending}>
              {pending ? 'Saving…' : jobId ? 'Save changes' : 'Create job'}
            </button>
            <Link className="btn btn-ghost" href={jobId ? `/jobs/${jobId}` : '/jobs'}>
              Cancel
            </Link>
          </div>
        </form>
      </IssueClaims>
    </FormProvider>
  );
}

/** The server's message and the issues no field shows (e.g. "schedule" as a whole), or a spoken count of the others. */
function Summary({ state }: { state: JobFormState }) {
  const others = useUnclaimedIssues(state.issues);
  return (
    <>
      {(state.message || others.length > 0) && (
        <div className="alert alert-error" role="alert">
          {state.message && <p>{state.message}</p>}
          {others.map((i) => (
            <p key={`${i.path}:${i.message}`}>
              {i.path ? <code>{i.path}</code> : null} {i.message}
            </p>
          ))}
        </div>
      )}
      {state.issues.length > 0 && !state.message && others.length === 0 && (
        <p className="sr-only" role="status">
          The job was not saved: {state.issues.length} field{state.issues.length === 1 ? '' : 's'} need attention.
        </p>
      )}
    </>
  );
}

function JobFieldset({ types, nameMaxLength }: { types: JobTypeOption[]; nameMaxLength: number | null }) {
  const type = useWatch<JobFormValues, 'type'>({ name: 'type' });
  return (
    <fieldset>
      <legend>Job</legend>
      <Field name="name" label="Name">
        {(p) => <input {...p} autoComplete="off" maxLength={nameMaxLength ?? undefined} />}
      </Field>
      <Field name="description" label="Description" hint="Optional">
        {(p) => <textarea {...p} rows={2} />}
      </Field>
      <Field name="type" label="Type" hint={types.find((t) => t.name === type)?.description}>
        {(p) => (
          <select {...p}>
            {types.map((t) => (
              <option key={t.name} value={t.name}>
                {t.title} ({t.name})
              </option>
            ))}
          </select>
        )}
      </Field>
    </fieldset>
  );
}

/** The selected type's payload fields, drawn from its schema. */
function PayloadFieldset({ types }: { types: JobTypeOption[] }) {
  const type = useWatch<JobFormValues, 'type'>({ name: 'type' });
  const schema = types.find((t) => t.name === type)?.schema;
  const fields = useMemo(() => (schema ? payloadFields(schema) : []), [schema]);
  return (
    <fieldset>
      <legend>Payload</legend>
      <GroupError path="payload" />
      {fields.length === 0 && <p className="muted">This type takes no payload.</p>}
      {fields.map((f) => (
        <PayloadInput key={`${type}.${f.name}`} type={type} field={f} />
      ))}
    </fieldset>
  );
}

function ScheduleFieldset() {
  const { setValue } = useFormContext<JobFormValues>();
  const { field: kindField } = useController<JobFormValues, 'schedule.kind'>({ name: 'schedule.kind' });
  const kind = kindField.value;
  const [expression, atLocal] = useWatch<JobFormValues, ['schedule.expression', 'schedule.atLocal']>({
    name: ['schedule.expression', 'schedule.atLocal'],
  });
  const [zones, setZones] = useState<string[]>([]);

  useEffect(() => {
    // The browser's zone list, after hydration (the server's may differ).
    setZones(typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []);
  }, []);

  return (
    <fieldset>
      <legend>Schedule</legend>
      <div className="field">
        <span className="label" id="kind-label">
          Runs
        </span>
        <div className="segmented" role="radiogroup" aria-labelledby="kind-label">
          {SCHEDULE_KINDS.map((k) => (
            <label key={k} className="segment">
              <input
                type="radio"
                name={kindField.name}
                value={k}
                checked={kind === k}
                onChange={() => kindField.onChange(k)}
                onBlur={kindField.onBlur}
              />
              <span>{KIND_LABELS[k]}</span>
            </label>
          ))}
        </div>
        <GroupError path="schedule.kind" alert={false} />
      </div>

      {kind === 'cron' && (
        <div className="field">
          <span className="label" id="presets-label">
            Presets
          </span>
          <div className="presets" role="group" aria-labelledby="presets-label">
            {CRON_PRESETS.map((p) => (
              <button
                key={p.expression}
                type="button"
                className="btn btn-sm preset"
                aria-pressed={expression.trim() === p.expression}
                onClick={() => setValue('schedule.expression', p.expression)}
              >
                {p.label}
              </button>
            ))}
          </div>
        </div>
      )}
      {kind === 'cron' && (
        <div className="grid-2">
          <Field name="schedule.expression" label="Cron expression" hint="minute hour day month weekday; 6 fields = seconds first">
            {(p) => <input {...p} className="mono" autoComplete="off" spellCheck={false} />}
          </Field>
          <Field name="schedule.timezone" label="Time zone" hint="IANA name, e.g. Europe/Berlin">
            {(p) => (
              <>
                <input {...p} list="tz-list" autoComplete="off" spellCheck={false} />
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
        <Field name="schedule.seconds" label="Interval (seconds)">
          {(p) => <input {...p} type="number" inputMode="numeric" min={1} step={1} />}
        </Field>
      )}
      {kind === 'once' && (
        <Field name="schedule.atLocal" path="schedule.at" label="Run at (your local time)">
          {(p) => (
            <>
              <input {...p} name={undefined} type="datetime-local" step={1} />
              {/* The server has no idea of the browser's zone: send the instant, not the wall-clock text. */}
              <input type="hidden" name="schedule.at" value={localToIso(atLocal)} />
            </>
          )}
        </Field>
      )}

      <SchedulePreview />
    </fieldset>
  );
}

/** The schedule in words and its next five occurrences, computed in the browser as the operator types. */
function SchedulePreview() {
  const [kind, expression, timezone, seconds, atLocal] = useWatch<
    JobFormValues,
    ['schedule.kind', 'schedule.expression', 'schedule.timezone', 'schedule.seconds', 'schedule.atLocal']
  >({ name: ['schedule.kind', 'schedule.expression', 'schedule.timezone', 'schedule.seconds', 'schedule.atLocal'] });
  const [now, setNow] = useState<Date | null>(null);

  useEffect(() => {
    // After hydration: the server does not know the browser's clock.
    setNow(new Date());
    const id = setInterval(() => setNow(new Date()), 15_000);
    return () => clearInterval(id);
  }, []);

  const preview = useMemo(() => {
    if (!now) return null;
    const candidate =
      kind === 'cron'
        ? { kind, expression, timezone }
        : kind === 'interval'
          ? { kind, seconds: Number(seconds) }
          : { kind, at: localToIso(atLocal) };
    if (kind === 'cron') {
      const err = cronExpressionError(expression);
      if (err) return { error: `Invalid cron expression: ${err}` };
      if (!isValidTimezone(timezone))
        return { error: `Unknown time zone “${timezone.trim()}”: use an IANA name such as Europe/Berlin or UTC` };
    }
    const parsed = ScheduleSchema.safeParse(candidate);
    if (!parsed.success) return { error: parsed.error.issues[0]?.message ?? 'invalid schedule' };
    return { words: describeSchedule(parsed.data), next: nextOccurrences(parsed.data, now, now, 5) };
  }, [kind, expression, timezone, seconds, atLocal, now]);

  const zoneFormat = useMemo(() => {
    const tz = kind === 'cron' && isValidTimezone(timezone) ? timezone : undefined;
    return new Intl.DateTimeFormat(undefined, { weekday: 'short', ...DATE_TIME, timeZone: tz, timeZoneName: 'short' });
  }, [kind, timezone]);

  return (
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
              <p className="muted small">
                Next {preview.next.length} {kind === 'cron' ? `(in ${timezone})` : '(your time)'}:
              </p>
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
  );
}

function PoliciesFieldset({ overlapPolicies, missedPolicies }: { overlapPolicies: readonly string[]; missedPolicies: readonly string[] }) {
  const [overlapPolicy, missedPolicy] = useWatch<JobFormValues, ['overlapPolicy', 'missedPolicy']>({
    name: ['overlapPolicy', 'missedPolicy'],
  });
  return (
    <fieldset>
      <legend>Policies</legend>
      <div className="grid-3">
        <Field name="timeoutSeconds" label="Timeout (seconds)" hint="A run still going after this is marked timed-out">
          {(p) => <input {...p} type="number" inputMode="numeric" min={1} max={86400} />}
        </Field>
        <Field name="overlapPolicy" label="When still running" hint={OVERLAP_HELP[overlapPolicy]}>
          {(p) => <Choices props={p} values={overlapPolicies} />}
        </Field>
        <Field name="missedPolicy" label="Missed occurrences" hint={MISSED_HELP[missedPolicy]}>
          {(p) => <Choices props={p} values={missedPolicies} />}
        </Field>
      </div>
      <Field name="concurrencyLimit" label="Concurrency limit" hint="Most runs of this job at once across the cluster; empty = no limit">
        {(p) => <input {...p} type="number" inputMode="numeric" min={1} max={1000} step={1} placeholder="no limit" />}
      </Field>
      <Field
        name="autoPause.afterFailures"
        label="Auto-pause after failures"
        hint="Pause the job after this many occurrences in a row failed (after their retries); a success resets the count; empty = never"
      >
        {(p) => <input {...p} type="number" inputMode="numeric" min={1} max={100} step={1} placeholder="never" />}
      </Field>
      <Field name="tags" label="Tags" hint="Separated by commas or spaces" nestedIssues>
        {(p) => <input {...p} autoComplete="off" />}
      </Field>
    </fieldset>
  );
}

function Choices({ props, values }: { props: InputProps; values: readonly string[] }) {
  return (
    <select {...props}>
      {values.map((o) => (
        <option key={o} value={o}>
          {o}
        </option>
      ))}
    </select>
  );
}

function RetriesFieldset() {
  return (
    <fieldset>
      <legend>Retries</legend>
      <GroupError path="retry" />
      <div className="grid-3">
        <Field name="retry.maxAttempts" label="Max attempts" hint="The first included; 1 = no retry">
          {(p) => <input {...p} type="number" inputMode="numeric" min={1} max={10} step={1} />}
        </Field>
        <Field name="retry.backoffSeconds" label="Backoff (seconds)" hint="Before the first retry; doubles each retry">
          {(p) => <input {...p} type="number" inputMode="numeric" min={1} max={86400} step={1} />}
        </Field>
        <Field name="retry.maxBackoffSeconds" label="Backoff cap (seconds)" hint="Longest wait between retries">
          {(p) => <input {...p} type="number" inputMode="numeric" min={1} max={86400} step={1} />}
        </Field>
      </div>
    </fieldset>
  );
}

/** One input of an alert rule row, bound to the form state (a failed save keeps what was typed). */
function RuleText({
  index,
  field,
  label,
  hint,
}: {
  index: number;
  field: 'throttleSeconds' | 'slowAfterSeconds';
  label: string;
  hint: string;
}) {
  return (
    <Field name={`alerts.${index}.${field}`} label={label} hint={hint}>
      {(p) => <input {...p} type="number" inputMode="numeric" min={field === 'slowAfterSeconds' ? 1 : 0} step={1} />}
    </Field>
  );
}

function RuleEvent({ index, event }: { index: number; event: string }) {
  const { field } = useController<JobFormValues, `alerts.${number}.on.${string}`>({ name: `alerts.${index}.on.${event}` });
  const id = `alerts-${index}-on-${event}`;
  return (
    <label htmlFor={id} className="checkbox">
      <input
        id={id}
        type="checkbox"
        name={`alerts.${index}.on`}
        value={event}
        checked={field.value === true}
        onChange={(e) => field.onChange(e.target.checked)}
        onBlur={field.onBlur}
      />{' '}
      {event}
    </label>
  );
}

/**
 * Alert rules: each row sends some of this job's events to a channel (Settings -> Alerts has the defaults for every
 * job). The last row is empty: pick a channel to add a rule; clear a row's channel to remove it.
 */
function AlertsFieldset({
  channels,
  events,
  rows,
}: {
  channels: ReadonlyArray<{ id: string; name: string; type: string }>;
  events: readonly string[];
  rows: number;
}) {
  return (
    <fieldset data-testid="alert-rules">
      <legend>Alerts</legend>
      <GroupError path="alerts" />
      {channels.length === 0 ? (
        <p className="muted">No alert channels yet: an admin adds them in Settings.</p>
      ) : (
        <>
          <input type="hidden" name="alerts.count" value={rows} />
          {Array.from({ length: rows }, (_, i) => (
            <div key={i} className="alert-rule" data-testid={`alert-rule-${i}`}>
              <GroupError path={`alerts.${i}`} />
              <div className="grid-3">
                <Field
                  name={`alerts.${i}.channelId`}
                  label={i === rows - 1 ? 'Add a rule: channel' : `Rule ${i + 1}: channel`}
                  hint="Empty = no rule"
                >
                  {(p) => (
                    <select {...p}>
                      <option value="">—</option>
                      {channels.map((c) => (
                        <option key={c.id} value={c.id}>
                          {c.name} ({c.type})
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
                <RuleText
                  index={i}
                  field="throttleSeconds"
                  label="Throttle (seconds)"
                  hint="At most one alert per window; 0 = every event"
                />
                <RuleText index={i} field="slowAfterSeconds" label="Slow after (seconds)" hint="Only with the slow event" />
              </div>
              <div className="field" role="group" aria-label={`Rule ${i + 1} events`}>
                <GroupError path={`alerts.${i}.on`} />
                {events.map((event) => (
                  <RuleEvent key={event} index={i} event={event} />
                ))}
              </div>
            </div>
          ))}
        </>
      )}
    </fieldset>
  );
}
