// Server-rendered SVG charts, no client JavaScript: scales, the stacking and the line paths come from d3-scale and
// d3-shape (they compute numbers and path strings, no DOM), the SVG is ours. Colours come from CSS variables, so the
// theme toggle recolours them; each chart has a <title>, an aria-label summary and a visually hidden data table.
import { scaleBand, scaleLinear, type ScaleBand, type ScaleLinear } from 'd3-scale';
import { line, stack } from 'd3-shape';
import Link from 'next/link';
import { formatDuration } from '@/lib/presenters/format';
import {
  STATS_RANGES,
  STATS_RANGE_KEYS,
  niceCeiling,
  summarizeDurations,
  summarizeRuns,
  type StatsPoint,
  type StatsRange,
  type StatsSeries,
} from '@/lib/presenters/run-stats';
import { RUN_STATUSES, type RunStatus } from '@/lib/store/types';

const W = 720;
const H = 200;
const PAD = { top: 10, right: 12, bottom: 24, left: 48 };
const PLOT_BOTTOM = H - PAD.bottom;

/** One slot per bucket across the plot: bars sit inside their slot, line points at its centre, x labels at its start. */
function slotScale(series: StatsSeries): ScaleBand<number> {
  return scaleBand<number>()
    .domain(series.points.map((_, i) => i))
    .range([PAD.left, W - PAD.right]);
}

/** 0 at the bottom of the plot, `max` (a nice ceiling of the data) at the top. */
function valueScale(max: number): ScaleLinear<number, number> {
  return scaleLinear().domain([0, max]).range([PLOT_BOTTOM, PAD.top]);
}

function tickLabel(date: Date, bucketSeconds: number): string {
  const iso = date.toISOString();
  // Sub-day buckets show the UTC time of day; larger ones the date. UTC, because the server renders it.
  return bucketSeconds < 3600 * 4 ? iso.slice(11, 16) : iso.slice(5, 10) + ' ' + iso.slice(11, 13) + 'h';
}

/** About six x labels whatever the number of bars: every k-th bucket's start. */
function XAxis({ series, x }: { series: StatsSeries; x: ScaleBand<number> }) {
  const every = Math.max(1, Math.ceil(series.points.length / 6));
  const ticks = x.domain().filter((i) => i % every === 0);
  return (
    <g className="chart-axis" aria-hidden="true">
      {ticks.map((i) => (
        <text key={i} x={x(i)} y={H - 6}>
          {tickLabel(series.points[i]!.start, series.bucketSeconds)}
        </text>
      ))}
    </g>
  );
}

/** Grid lines and labels at 0, half and the top of the value scale. */
function YAxis({ y, format }: { y: ScaleLinear<number, number>; format: (v: number) => string }) {
  const max = y.domain()[1]!;
  return (
    <g className="chart-axis" aria-hidden="true">
      {[0, max / 2, max].map((value) => (
        <g key={value}>
          <line x1={PAD.left} x2={W - PAD.right} y1={y(value)} y2={y(value)} className="chart-grid" />
          <text x={PAD.left - 6} y={y(value) + 4} textAnchor="end">
            {format(value)}
          </text>
        </g>
      ))}
    </g>
  );
}

export function RangeSelector({ current, hrefFor }: { current: StatsRange; hrefFor: (range: StatsRange) => string }) {
  return (
    <nav className="range-select" aria-label="Chart time range">
      {STATS_RANGE_KEYS.map((key) => (
        <Link
          key={key}
          href={hrefFor(key)}
          className={`btn btn-sm${key === current ? ' btn-primary' : ' btn-ghost'}`}
          aria-current={key === current ? 'true' : undefined}
          scroll={false}
        >
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

/** Runs per interval, stacked by status (in RUN_STATUSES order from the bottom). */
export function RunsChart({ series, rangeLabel, title }: { series: StatsSeries; rangeLabel: string; title: string }) {
  const summary = summarizeRuns(series, rangeLabel);
  const x = slotScale(series);
  const bars = x.copy().paddingInner(0.2).paddingOuter(0.1);
  const y = valueScale(niceCeiling(series.maxTotal));
  const layers = stack<StatsPoint, RunStatus>()
    .keys(RUN_STATUSES)
    .value((p, status) => p.counts[status])(series.points);
  return (
    <figure className="chart" data-testid="runs-chart">
      <figcaption className="chart-caption">{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} className="chart-svg">
        <title>{`${title}. ${summary}`}</title>
        <YAxis y={y} format={(v) => String(Math.round(v))} />
        <XAxis series={series} x={x} />
        {series.points.map((p, i) => {
          if (p.total === 0) return null;
          return (
            <g key={p.start.getTime()} className="chart-bar">
              <title>{`${p.start.toISOString()}: ${RUN_STATUSES.filter((s) => p.counts[s] > 0)
                .map((s) => `${p.counts[s]} ${s}`)
                .join(', ')}`}</title>
              {layers.map((layer) => {
                const [from, to] = layer[i]!;
                if (to === from) return null;
                return (
                  <rect
                    key={layer.key}
                    x={bars(i)}
                    y={y(to)}
                    width={Math.max(1, bars.bandwidth())}
                    height={y(from) - y(to)}
                    className={`chart-s-${layer.key}`}
                    data-status={layer.key}
                  />
                );
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

/** Duration p50 and p95 per interval: a line through the buckets that have a value, broken where one has none. */
export function DurationChart({ series, rangeLabel, title }: { series: StatsSeries; rangeLabel: string; title: string }) {
  const summary = summarizeDurations(series, rangeLabel);
  const x = slotScale(series);
  const cx = (i: number) => x(i)! + x.bandwidth() / 2;
  const y = valueScale(niceCeiling(series.maxDurationMs ?? 1));
  const path = line<number | null>()
    .defined((v) => v !== null)
    .x((_, i) => cx(i))
    .y((v) => y(v!))
    .digits(1);
  const lines = [
    { key: 'p50', label: 'p50', className: 'chart-l-p50', values: series.points.map((p) => p.p50Ms) },
    { key: 'p95', label: 'p95', className: 'chart-l-p95', values: series.points.map((p) => p.p95Ms) },
  ];
  return (
    <figure className="chart" data-testid="duration-chart">
      <figcaption className="chart-caption">{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} className="chart-svg">
        <title>{`${title}. ${summary}`}</title>
        <YAxis y={y} format={formatDuration} />
        <XAxis series={series} x={x} />
        {lines.map((l) => (
          <g key={l.key} className={l.className}>
            <path d={path(l.values) ?? ''} className="chart-line" vectorEffect="non-scaling-stroke" />
            {l.values.map((v, i) =>
              v === null ? null : (
                <circle key={i} cx={cx(i)} cy={y(v)} r={2.5} className="chart-dot">
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

export function StatsCharts({
  series,
  range,
  scope,
  hrefFor,
}: {
  series: StatsSeries;
  range: StatsRange;
  scope: string;
  hrefFor: (range: StatsRange) => string;
}) {
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
