import type { ReactNode } from 'react';

/**
 * The admin pages' tables (users, API tokens, audit log): a scrollable wrapper, a labelled table and a header row
 * of column names; the rows come as children.
 */
export function DataTable({ label, columns, children }: { label: string; columns: readonly string[]; children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table className="table" aria-label={label}>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

type Choices = readonly string[] | ReadonlyArray<{ value: string; label: string }>;

/** One <option> per value: a plain value is its own text (roles, audit actions, target types), or it brings a label. */
export function OptionList({ values }: { values: Choices }) {
  return values.map((choice) => {
    const { value, label } = typeof choice === 'string' ? { value: choice, label: choice } : choice;
    return (
      <option key={value} value={value}>
        {label}
      </option>
    );
  });
}

/**
 * A labelled <select> of a GET filter form (run history, audit log): an empty "any" choice first, then the
 * choices, each a value shown as is or a value with its own label.
 */
export function FilterSelect({
  id,
  label,
  name,
  defaultValue,
  any,
  options,
}: {
  id: string;
  label: string;
  name: string;
  defaultValue: string;
  any: string;
  options: Choices;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} name={name} defaultValue={defaultValue}>
        <option value="">{any}</option>
        <OptionList values={options} />
      </select>
    </div>
  );
}
