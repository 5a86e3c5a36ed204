// Server-rendered SVG charts: no chart library, no client JavaScript. Colours come from CSS variables, so the
// theme toggle recolours them; each chart has a <title>, an aria-label summary and a visually hidden data table.
import Link from 'next/link';
import { formatDuration } from '@/lib/presenters/format';
import {
  STATS_RANGES,
  STATS_RANGE_KEYS,
  niceCeiling,
  summarizeDurations,
  summarizeRuns,
  type StatsRange,
  type StatsSeries,
} from '@/lib/presenters/run-stats';
import { RUN_STATUSES, type RunStatus } from '@/lib/store/types';

const W = 720;
const H = 200;
const PAD = { top: 10, right: 12, bottom: 24, left: 48 };
const PLOT_W = W - PAD.left - PAD.right;
const PLOT_H = H - PAD.top - PAD.bottom;

function tickLabel(date: Date, bucketSeconds: number): string {
  const iso = date.toISOString();
  // Sub-day buckets show the UTC time of day; larger ones the date. UTC, because the server renders it.
  return bucketSeconds < 3600 * 4 ? iso.slice(11, 16) : iso.slice(5, 10) + ' ' + iso.slice(11, 13) + 'h';
}

/** About six x labels whatever the number of bars. */
function xTicks(series: StatsSeries): Array<{ x: number; label: string }> {
  const n = series.points.length;
  if (n === 0) return [];
  const every = Math.max(1, Math.ceil(n / 6));
  const step = PLOT_W / n;
  const ticks: Array<{ x: number; label: string }> = [];
  for (let i = 0; i < n; i += every) ticks.push({ x: PAD.left + i * step, label: tickLabel(series.points[i]!.start, series.bucketSeconds) });
  return ticks;
}

function YAxis({ max, format }: { max: number; format: (v: number) => string }) {
  const ticks = [0, 0.5, 1].map((f) => ({ y: PAD.top + PLOT_H * (1 - f), value: max * f }));
  return (
    <g className="chart-axis" aria-hidden="true">
      {ticks.map((t) => (
        <g key={t.y}>
          <line x1={PAD.left} x2={W - PAD.right} y1={t.y} y2={t.y} className="chart-grid" />
          <text x={PAD.left - 6} y={t.y + 4} textAnchor="end">
            {format(t.value)}
          </text>
        </g>
      ))}
    </g>
  );
}

function XAxis({ series }: { series: StatsSeries }) {
  return (
    <g className="chart-axis" aria-hidden="true">
      {xTicks(series).map((t) => (
        <text key={t.x} x={t.x} y={H - 6}>
          {t.label}
        </text>
      ))}
    </g>
  );
}

export function RangeSelector({ current, hrefFor }: { current: StatsRange; hrefFor: (range: StatsRange) => string }) {
  return (
    <nav className="range-select" aria-label="Chart time range">
      {STATS_RANGE_KEYS.map((key) => (
        <Link key={key} href={hrefFor(key)} className={`btn btn-sm${key === current ? ' btn-primary' : ' btn-ghost'}`} aria-current={key === current ? 'true' : undefined} scroll={false}>
          {key}
        </Link>
      ))}
    </nav>
  );
}

function Legend({ items }: { items: Array<{ key: string; label: string; className: string }> }) {
  return (
    <ul className="chart-legend" aria-hidden="true">
      {items.map((i) => (
        <li key={i.key}>
          <span className={`chart-swatch ${i.className}`} />
          {i.label}
        </li>
      ))}
    </ul>
  );
}

/** Runs per interval, stacked by status. */
export function RunsChart({ series, rangeLabel, title }: { series: StatsSeries; rangeLabel: string; title: string }) {
  const summary = summarizeRuns(series, rangeLabel);
  const max = niceCeiling(series.maxTotal);
  const n = series.points.length;
  const step = n > 0 ? PLOT_W / n : PLOT_W;
  const barW = Math.max(1, step * 0.8);
  const stack: RunStatus[] = [...RUN_STATUSES];
  return (
    <figure className="chart" data-testid="runs-chart">
      <figcaption className="chart-caption">{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} className="chart-svg">
        <title>{`${title}. ${summary}`}</title>
        <YAxis max={max} format={(v) => String(Math.round(v))} />
        <XAxis series={series} />
        {series.points.map((p, i) => {
          if (p.total === 0) return null;
          let y = PAD.top + PLOT_H;
          const x = PAD.left + i * step + (step - barW) / 2;
          return (
            <g key={p.start.getTime()} className="chart-bar">
              <title>{`${p.start.toISOString()}: ${stack
                .filter((s) => p.counts[s] > 0)
                .map((s) => `${p.counts[s]} ${s}`)
                .join(', ')}`}</title>
              {stack.map((s) => {
                const c = p.counts[s];
                if (c === 0) return null;
                const h = (c / max) * PLOT_H;
                y -= h;
                return <rect key={s} x={x} y={y} width={barW} height={h} className={`chart-s-${s}`} data-status={s} />;
              })}
            </g>
          );
        })}
      </svg>
      <Legend items={series.statuses.map((s) => ({ key: s, label: `${s} (${series.totals[s]})`, className: `chart-s-${s}` }))} />
      <div className="sr-only">
      <table>
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Interval start (UTC)</th>
            {RUN_STATUSES.map((s) => (
              <th key={s} scope="col">
                {s}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {series.points
            .filter((p) => p.total > 0)
            .map((p) => (
              <tr key={p.start.getTime()}>
                <th scope="row">{p.start.toISOString()}</th>
                {RUN_STATUSES.map((s) => (
                  <td key={s}>{p.counts[s]}</td>
                ))}
              </tr>
            ))}
        </tbody>
      </table>
      </div>
    </figure>
  );
}

/** A line through the buckets that have a value; a bucket without runs breaks the line. */
function linePath(values: Array<number | null>, step: number, max: number): string {
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    const x = PAD.left + i * step + step / 2;
    const y = PAD.top + PLOT_H * (1 - v / max);
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  });
  return d;
}

/** Duration p50 and p95 per interval. */
export function DurationChart({ series, rangeLabel, title }: { series: StatsSeries; rangeLabel: string; title: string }) {
  const summary = summarizeDurations(series, rangeLabel);
  const max = niceCeiling(series.maxDurationMs ?? 1);
  const n = series.points.length;
  const step = n > 0 ? PLOT_W / n : PLOT_W;
  const lines = [
    { key: 'p50', label: 'p50', className: 'chart-l-p50', values: series.points.map((p) => p.p50Ms) },
    { key: 'p95', label: 'p95', className: 'chart-l-p95', values: series.points.map((p) => p.p95Ms) },
  ];
  return (
    <figure className="chart" data-testid="duration-chart">
      <figcaption className="chart-caption">{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} className="chart-svg">
        <title>{`${title}. ${summary}`}</title>
        <YAxis max={max} format={formatDuration} />
        <XAxis series={series} />
        {lines.map((l) => (
          <g key={l.key} className={l.className}>
            <path d={linePath(l.values, step, max)} className="chart-line" vectorEffect="non-scaling-stroke" />
            {l.values.map((v, i) =>
              v === null ? null : (
                <circle key={i} cx={PAD.left + i * step + step / 2} cy={PAD.top + PLOT_H * (1 - v / max)} r={2.5} className="chart-dot">
                  <title>{`${series.points[i]!.start.toISOString()}: ${l.label} ${formatDuration(v)}`}</title>
                </circle>
              ),
            )}
          </g>
        ))}
      </svg>
      <Legend items={lines.map((l) => ({ key: l.key, label: l.label, className: `${l.className} chart-swatch-line` }))} />
      <div className="sr-only">
      <table>
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Interval start (UTC)</th>
            <th scope="col">p50</th>
            <th scope="col">p95</th>
          </tr>
        </thead>
        <tbody>
          {series.points
            .filter((p) => p.p50Ms !== null)
            .map((p) => (
              <tr key={p.start.getTime()}>
                <th scope="row">{p.start.toISOString()}</th>
                <td>{formatDuration(p.p50Ms ?? 0)}</td>
                <td>{p.p95Ms === null ? '' : formatDuration(p.p95Ms)}</td>
              </tr>
            ))}
        </tbody>
      </table>
      </div>
    </figure>
  );
}

export function StatsCharts({ series, range, scope, hrefFor }: { series: StatsSeries; range: StatsRange; scope: string; hrefFor: (range: StatsRange) => string }) {
  const label = STATS_RANGES[range].label;
  return (
    <section className="charts" aria-labelledby="charts-h">
      <div className="section-head">
        <h2 id="charts-h">Activity</h2>
        <RangeSelector current={range} hrefFor={hrefFor} />
      </div>
      <div className="chart-grid-2">
        <RunsChart series={series} rangeLabel={label} title={`Runs per ${intervalWord(series.bucketSeconds)} by status${scope}`} />
        <DurationChart series={series} rangeLabel={label} title={`Run duration p50 / p95${scope}`} />
      </div>
    </section>
  );
}

function intervalWord(seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? 'hour' : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? 'minute' : `${seconds / 60} minutes`;
  return `${seconds} s`;
}
