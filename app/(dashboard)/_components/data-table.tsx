import type { ReactNode } from 'react';

/** One column of a DataTable: its header, and what a row puts in its cell. */
export interface Column<Row> {
  /** The header's text; on a stacked table also each cell's data-label, which names the field on a phone. */
  header: string;
  /** What the header cell shows instead of the text (the jobs list's select-all checkbox). */
  headerContent?: ReactNode;
  /** The header's tooltip. */
  title?: string;
  headerClassName?: string;
  /** Class of each body cell: fixed, or from its row. */
  className?: string | ((row: Row) => string | undefined);
  /** data-testid of each body cell. */
  testId?: string;
  cell: (row: Row) => ReactNode;
}

/** Attributes of a body row: an id (an anchor to link to) and the data-* attributes the tests and scripts read. */
export type RowAttributes = { id?: string } & { [key: `data-${string}`]: string | number | undefined };

interface DataTableProps<Row> {
  /** The table's accessible name (aria-label). */
  label?: string;
  testId?: string;
  /** Classes besides "table". */
  className?: string;
  /** On narrow screens each row becomes a stacked card, each cell labelled by its column (CSS, via data-label). */
  stacked?: boolean;
  /** Columns in order; `false` leaves one out (a column only some viewers get). */
  columns: ReadonlyArray<Column<Row> | false>;
  rows: readonly Row[];
  rowKey: (row: Row) => string | number;
  rowAttributes?: (row: Row) => RowAttributes;
}

/**
 * Every table of the dashboard (jobs, runs, attempts, instances, users, API tokens, audit log): a scrollable wrapper,
 * a table, a header row of column names and one row per item, each cell filled by its column.
 */
export function DataTable<Row>({ label, testId, className, stacked = false, columns, rows, rowKey, rowAttributes }: DataTableProps<Row>) {
  const shown = columns.filter((column): column is Column<Row> => column !== false);
  const classes = ['table', className, stacked ? 'stack' : null].filter(Boolean).join(' ');
  return (
    <div className="table-wrap">
      <table className={classes} aria-label={label} data-testid={testId}>
        <thead>
          <tr>
            {shown.map((column) => (
              <th key={column.header} scope="col" title={column.title} className={column.headerClassName}>
                {column.headerContent ?? column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} {...rowAttributes?.(row)}>
              {shown.map((column) => (
                <td
                  key={column.header}
                  data-label={stacked ? column.header : undefined}
                  className={typeof column.className === 'function' ? column.className(row) : column.className}
                  data-testid={column.testId}
                >
                  {column.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
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
