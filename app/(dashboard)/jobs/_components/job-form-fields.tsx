import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import {
  get,
  set,
  useController,
  useFormState,
  type ControllerRenderProps,
  type FieldErrors,
  type FieldPath,
  type RefCallBack,
} from 'react-hook-form';
import type { FieldIssue } from '@/lib/errors';
import type { JobFormValues } from '@/lib/presenters/job-form-state';
import type { PayloadField } from '@/lib/presenters/payload-fields';

// The job form's parts: a labelled field bound to one value of the form state, showing the server's issues for its
// path. Each field claims its path while it is on screen; issues no field claims go to the summary above the form.

function fieldId(path: string): string {
  return `f-${path.replace(/[^a-zA-Z0-9]+/g, '-')}`;
}

/** The server's issues as react-hook-form errors at the same dotted paths (several on one path joined with "; "). */
export function serverErrors(issues: FieldIssue[]): FieldErrors<JobFormValues> {
  const byPath = new Map<string, string[]>();
  for (const issue of issues) if (issue.path !== '') byPath.set(issue.path, [...(byPath.get(issue.path) ?? []), issue.message]);
  const errors = {};
  // Parents first: "tags" then "tags.0", so the child is added to the parent's entry instead of replaced by it.
  const paths = [...byPath.keys()].sort((a, b) => a.split('.').length - b.split('.').length);
  for (const path of paths) set(errors, path, { type: 'server', message: byPath.get(path)!.join('; ') });
  return errors;
}

/** Every message at `path`, and with `nested` also below it ("tags.3"). */
function messagesAt(errors: FieldErrors<JobFormValues>, path: string, nested: boolean): string[] {
  const messages: string[] = [];
  const visit = (node: unknown, deep: boolean) => {
    if (typeof node !== 'object' || node === null) return;
    const { message } = node as { message?: unknown };
    if (typeof message === 'string') messages.push(message);
    if (deep) for (const [key, child] of Object.entries(node)) if (key !== 'message' && key !== 'type' && key !== 'ref') visit(child, true);
  };
  visit(get(errors, path), nested);
  return messages;
}

interface Claim {
  path: string;
  nested: boolean;
}
const ClaimContext = createContext<(claim: Claim) => () => void>(() => () => undefined);
const ClaimsContext = createContext<readonly Claim[]>([]);

/** Keeps track of which issue paths the fields on screen show (they come and go with the type and schedule kind). */
export function IssueClaims({ children }: { children: ReactNode }) {
  const [claims, setClaims] = useState<readonly Claim[]>([]);
  const claim = useCallback((c: Claim) => {
    setClaims((all) => [...all, c]);
    return () => setClaims((all) => all.filter((other) => other !== c));
  }, []);
  return (
    <ClaimContext value={claim}>
      <ClaimsContext value={claims}>{children}</ClaimsContext>
    </ClaimContext>
  );
}

/** The issues no field on screen shows ("schedule" as a whole, an unknown key): for the summary above the form. */
export function useUnclaimedIssues(issues: FieldIssue[]): FieldIssue[] {
  const claims = useContext(ClaimsContext);
  return issues.filter((i) => !claims.some((c) => c.path === i.path || (c.nested && i.path.startsWith(`${c.path}.`))));
}

/** The issues for `path` (and below it, with `nested`), claimed for as long as the caller is on screen. */
function useIssues(path: string, nested = false): string[] {
  const claim = useContext(ClaimContext);
  useEffect(() => claim({ path, nested }), [claim, path, nested]);
  const { errors } = useFormState<JobFormValues>();
  return messagesAt(errors, path, nested);
}

/** Issues about a group as a whole ("payload", "retry", "schedule.kind"), shown above or below its fields. */
export function GroupError({ path, alert = true }: { path: string; alert?: boolean }) {
  const issues = useIssues(path);
  if (issues.length === 0) return null;
  return (
    <p className="field-error" role={alert ? 'alert' : undefined}>
      {issues.join('; ')}
    </p>
  );
}

export interface InputProps {
  id: string;
  name: string;
  value: string;
  onChange: ControllerRenderProps<JobFormValues>['onChange'];
  onBlur: () => void;
  ref: RefCallBack;
  'aria-invalid': boolean;
  'aria-describedby': string | undefined;
}

interface FieldProps {
  /** The value in the form state, and by default the input's name and the path of its issues. */
  name: FieldPath<JobFormValues>;
  /** Where the server reports this field's issues and the name the input is posted under, when not `name`. */
  path?: string;
  label: string;
  hint?: string | null;
  /** Also show issues below the path ("tags.3" on the tags field). */
  nestedIssues?: boolean;
  children: (props: InputProps) => ReactNode;
}

/** A label, the input (rendered by `children` with its id, name, value, handlers and ARIA wiring), a hint and the issues. */
export function Field({ name, path = name, label, hint, nestedIssues = false, children }: FieldProps) {
  const { field } = useController<JobFormValues>({ name });
  const issues = useIssues(path, nestedIssues);
  const id = fieldId(path);
  const describedBy = [issues.length ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean).join(' ') || undefined;
  const value = typeof field.value === 'string' ? field.value : '';
  return (
    <div className={`field${issues.length ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({
        id,
        name: path,
        value,
        onChange: field.onChange,
        onBlur: field.onBlur,
        ref: field.ref,
        'aria-invalid': issues.length > 0,
        'aria-describedby': describedBy,
      })}
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

/** A payload field drawn from the job type's schema: its value is kept per type, it is posted as "payload.<name>". */
export function PayloadInput({ type, field }: { type: string; field: PayloadField }) {
  const name: PayloadValuePath = `payloadByType.${type}.${field.name}`;
  const path = `payload.${field.name}`;
  const defaultHint =
    field.defaultValue !== undefined && field.kind !== 'boolean' && field.kind !== 'record' && field.kind !== 'list'
      ? `default ${JSON.stringify(field.defaultValue)}`
      : null;
  const hint = [
    field.description,
    field.kind === 'record' ? 'one "Name: value" per line' : null,
    field.kind === 'list' ? 'comma-separated' : null,
    defaultHint,
    field.required ? null : 'optional',
  ]
    .filter(Boolean)
    .join(' · ');
  const label = field.required ? `${field.label} (required)` : field.label;

  if (field.kind === 'boolean') return <PayloadCheckbox name={name} path={path} label={field.label} />;
  return (
    <Field name={name} path={path} label={label} hint={hint}>
      {(p) => {
        switch (field.kind) {
          case 'enum':
            return (
              <select {...p}>
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
              <input
                {...p}
                type="number"
                inputMode="numeric"
                step={field.kind === 'integer' ? 1 : 'any'}
                min={field.min ?? undefined}
                max={field.max ?? undefined}
              />
            );
          case 'text':
          case 'record':
          case 'json':
            return <textarea {...p} className={field.kind === 'text' ? undefined : 'mono'} rows={3} spellCheck={false} />;
          default:
            return <input {...p} type={field.format === 'uri' ? 'url' : 'text'} autoComplete="off" spellCheck={false} />;
        }
      }}
    </Field>
  );
}

type PayloadValuePath = `payloadByType.${string}.${string}`;

function PayloadCheckbox({ name, path, label }: { name: PayloadValuePath; path: string; label: string }) {
  const { field } = useController<JobFormValues, PayloadValuePath>({ name });
  const issues = useIssues(path);
  const id = fieldId(path);
  return (
    <div className="field field-check">
      <input
        id={id}
        type="checkbox"
        name={path}
        checked={field.value === true}
        onChange={(e) => field.onChange(e.target.checked)}
        onBlur={field.onBlur}
        ref={field.ref}
        aria-invalid={issues.length > 0}
        aria-describedby={issues.length ? `${id}-error` : undefined}
      />
      <label htmlFor={id}>{label}</label>
      {issues.length > 0 && (
        <p className="field-error" id={`${id}-error`}>
          {issues.join('; ')}
        </p>
      )}
    </div>
  );
}
