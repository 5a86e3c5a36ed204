'use client';

import Link from 'next/link';
import { useEffect, useState } from 'react';
import { FilterSelect, OptionList } from '../_components/data-table';

export interface FilterOptions {
  jobs: Array<{ id: string; name: string }>;
  instances: string[];
  statuses: readonly string[];
  ranges: Array<{ value: string; label: string }>;
}

export interface FilterValues {
  job: string;
  /** Job name search. */
  q: string;
  status: string;
  instance: string;
  range: string;
  from: string;
  to: string;
}

/** A datetime-local value for an ISO instant, in the browser's zone. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function toIso(local: string): string {
  const d = new Date(local);
  return local && !Number.isNaN(d.getTime()) ? d.toISOString() : '';
}

/**
 * The run-history filters: a plain GET form, so the state lives in the URL (shareable, back button).
 * Custom times are typed in the browser's zone and sent as instants, because the server cannot know that zone.
 */
export function RunFilters({ options, values }: { options: FilterOptions; values: FilterValues }) {
  const [range, setRange] = useState(values.from || values.to ? 'custom' : values.range);
  const [fromLocal, setFromLocal] = useState('');
  const [toLocal, setToLocal] = useState('');
  useEffect(() => {
    // The browser's zone is only known after hydration.
    setFromLocal(toLocalInput(values.from));
    setToLocal(toLocalInput(values.to));
  }, [values.from, values.to]);

  return (
    <form className="filters" role="search" aria-label="Filter runs" action="/runs">
      <div className="field">
        <label htmlFor="flt-q">Job name contains</label>
        <input id="flt-q" type="search" name="q" defaultValue={values.q} placeholder="e.g. backup" autoComplete="off" maxLength={200} />
      </div>
      <FilterSelect
        id="flt-job"
        label="Job"
        name="job"
        defaultValue={values.job}
        any="All jobs"
        options={options.jobs.map((j) => ({ value: j.id, label: j.name }))}
      />
      <FilterSelect id="flt-status" label="Status" name="status" defaultValue={values.status} any="Any status" options={options.statuses} />
      <FilterSelect
        id="flt-instance"
        label="Instance"
        name="instance"
        defaultValue={values.instance}
        any="Any instance"
        options={options.instances}
      />
      <div className="field">
        <label htmlFor="flt-range">Scheduled</label>
        <select id="flt-range" name={range === 'custom' ? undefined : 'range'} value={range} onChange={(e) => setRange(e.target.value)}>
          <option value="">Any time</option>
          <OptionList values={options.ranges} />
          <option value="custom">Between…</option>
        </select>
      </div>
      {range === 'custom' && (
        <>
          <div className="field">
            <label htmlFor="flt-from">From (your time)</label>
            <input id="flt-from" type="datetime-local" value={fromLocal} onChange={(e) => setFromLocal(e.target.value)} />
            <input type="hidden" name="from" value={toIso(fromLocal)} />
          </div>
          <div className="field">
            <label htmlFor="flt-to">To (your time)</label>
            <input id="flt-to" type="datetime-local" value={toLocal} onChange={(e) => setToLocal(e.target.value)} />
            <input type="hidden" name="to" value={toIso(toLocal)} />
          </div>
        </>
      )}
      <div className="filters-actions">
        <button type="submit" className="btn btn-primary btn-sm">
          Apply
        </button>
        <Link href="/runs" className="btn btn-ghost btn-sm">
          Clear
        </Link>
      </div>
    </form>
  );
}
