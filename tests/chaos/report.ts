/** The markdown report of a chaos run: setup, faults by kind and one by one, occurrence classes, violations with evidence. */
import { OCCURRENCE_VIOLATIONS, OK_CLASSES, VIOLATION_CLASSES, type CheckReport, type Violation } from './checker';
import type { Member } from './cluster';
import type { Fault } from './nemesis';

export interface ReportMeta {
  title: string;
  commit: string;
  store: string;
  instances: number;
  seed: number;
  durationMs: number;
  startedAt: string;
  finishedAt: string;
  jobs: { short: number; long: number };
  scheduler: {
    leaseMs: number;
    prefetchMs: number;
    shutdownGraceMs: number;
    config: Record<string, unknown>;
    env: Record<string, string | undefined>;
  };
}

const EXAMPLES_PER_CLASS = 5;

function time(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toISOString().slice(11, 23);
}

function violationLines(v: Violation): string[] {
  const lines = [`- **${v.jobName}** \`${v.occurrence}\`: ${v.detail}`];
  for (const r of v.records) {
    const history = r.history.length
      ? `; history: ${r.history.map((h) => `#${h.attempt} ${h.status} on ${h.instanceId ?? '?'} from ${h.startedAt ?? '-'}`).join(', ')}`
      : '';
    const range = r.rangeEnd ? ` range to ${r.rangeEnd} (${r.rangeCount ?? '?'})` : '';
    lines.push(
      `  - record \`${r.scheduledFor}\` ${r.status}/${r.trigger} attempt ${r.attempt} on ${r.instanceId ?? '-'}, started ${r.startedAt ?? '-'}, finished ${r.finishedAt ?? '-'}${range}${history}${r.error ? `; error: ${r.error.replace(/\n/g, ' ')}` : ''}`,
    );
  }
  for (const d of v.deliveries) {
    lines.push(
      `  - delivery #${d.seq} of \`${d.scheduledFor ?? '?'}\` attempt ${d.attempt ?? '?'} (${d.trigger ?? '?'}) by ${d.instanceId ?? '?'}: arrived ${d.arrivedAt}, ended ${d.endedAt ?? 'never'} (${d.ended ?? '-'})`,
    );
  }
  return lines;
}

export function markdownReport(input: { meta: ReportMeta; faults: Fault[]; report: CheckReport; members: Member[] }): string {
  const { meta, faults, report, members } = input;
  const out: string[] = [];
  out.push(
    `# ${meta.title}: ${meta.store}, ${meta.instances} instances, ${Math.round((meta.durationMs / 60_000) * 10) / 10} min of faults`,
  );
  out.push('');
  out.push(`- Commit: ${meta.commit}`);
  out.push(`- Run: ${meta.startedAt} to ${meta.finishedAt}, seed ${meta.seed}`);
  out.push(
    `- Jobs: ${meta.jobs.short} every 2 s (cron \`*/2 * * * * *\`, missed policies run-all / run-once / skip × overlap allow / skip / queue-one; targets 20-400 ms, every sixth 1.2-2.6 s), ${meta.jobs.long} every 20 s whose target takes 25-40 s`,
  );
  out.push(
    `- Scheduler (as lib/scheduler/config.ts loads it for the instances' env): ${Object.entries(meta.scheduler.config)
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(', ')}`,
  );
  out.push(
    `- Instance env (besides DATABASE_URL, secrets and INSTANCE_ID): ${Object.entries(meta.scheduler.env)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  out.push(`- Instances started: ${members.length} (${members.map((m) => `${m.instanceId} pid ${m.pid}`).join(', ')})`);
  if (meta.store === 'mongodb')
    out.push('- No database restarts: the MongoDB test server keeps everything in memory and would lose it all on a restart.');
  out.push('');
  out.push(
    `**Result: ${report.violations.length === 0 ? 'no violation' : `${report.violations.length} violation(s)`}** over ${report.occurrencesChecked} occurrences checked (${report.requiredOccurrences} required; ${report.optionalAbsent} optional ones near creation or pause had nothing and need nothing), ${report.runs} run records, ${report.deliveries} deliveries.`,
  );
  out.push('');
  out.push('## Faults by kind');
  out.push('');
  out.push('| kind | count |');
  out.push('|---|--:|');
  for (const [kind, n] of Object.entries(report.faultsByKind)) out.push(`| ${kind} | ${n} |`);
  out.push('');
  out.push('## Occurrences by class');
  out.push('');
  out.push('| class | occurrences | violation entries |');
  out.push('|---|--:|--:|');
  for (const c of OK_CLASSES) out.push(`| ${c} | ${report.classes[c]} | |`);
  for (const c of OCCURRENCE_VIOLATIONS) out.push(`| **${c}** | ${report.classes[c]} | ${report.violationsByClass[c]} |`);
  out.push(`| **unexpected** (record or delivery off the checked occurrences) | | ${report.violationsByClass.unexpected} |`);
  out.push('');
  if (report.skippedStreaks.length) {
    out.push(
      `Longest streaks of consecutive skipped occurrences (not a violation by itself; a dead owner blocking a skip job shows here): ${report.skippedStreaks.map((s) => `${s.length} × ${s.jobName} from ${s.from.slice(11, 19)}`).join('; ')}.`,
    );
    out.push('');
  }
  out.push(
    `Lag of on-time deliveries (first delivery − due): p50 ${report.lagMs.p50 ?? '-'} ms, p99 ${report.lagMs.p99 ?? '-'} ms, max ${report.lagMs.max ?? '-'} ms over ${report.lagMs.count}.`,
  );
  out.push('');
  out.push('## Faults');
  out.push('');
  out.push(
    '| # | kind | target | pid | applied (UTC) | aimed at | offset planned / actual ms | holders | duration ms | recovered | replaced by |',
  );
  out.push('|--:|---|---|--:|---|---|---|---|--:|---|---|');
  for (const f of faults) {
    out.push(
      `| ${f.seq} | ${f.kind} | ${f.target ?? 'database'} | ${f.pid ?? ''} | ${time(f.appliedAt)} | ${f.due ? f.due.slice(11, 23) : ''} | ${f.offsetMs !== undefined ? `${f.offsetMs} / ${f.actualOffsetMs}` : ''} | ${
        f.holders
          ? Object.entries(f.holders)
              .map(([k, n]) => `${k}: ${n}`)
              .join(', ')
          : ''
      } | ${f.durationMs ?? ''} | ${time(f.recoveredAt)} | ${f.replacedBy ?? ''}${f.note ? ` (${f.note})` : ''} |`,
    );
  }
  out.push('');
  if (report.violations.length) {
    out.push('## Violations');
    out.push('');
    for (const c of VIOLATION_CLASSES) {
      const of = report.violations.filter((v) => v.class === c);
      if (!of.length) continue;
      const jobs = new Set(of.map((v) => v.jobName));
      out.push(`### ${c}: ${of.length} (${jobs.size} job${jobs.size === 1 ? '' : 's'})`);
      out.push('');
      for (const v of of.slice(0, EXAMPLES_PER_CLASS)) out.push(...violationLines(v));
      if (of.length > EXAMPLES_PER_CLASS) out.push(`- … ${of.length - EXAMPLES_PER_CLASS} more in the JSON report`);
      out.push('');
    }
  }
  return out.join('\n') + '\n';
}
