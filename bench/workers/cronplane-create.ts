/**
 * Creates BENCH_JOBS Cronplane jobs (type log, interval 1 s) through lib/services, as the dashboard and the
 * REST API do, then exits. A process of its own per scenario: getStore() is a process-wide singleton.
 */
import { createJob } from '../../lib/services/jobs';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';

const jobs = Number(process.env.BENCH_JOBS);
const started = Date.now();
for (let i = 0; i < jobs; i += 20) {
  await Promise.all(
    Array.from({ length: Math.min(20, jobs - i) }, (_, k) =>
      createJob(
        { name: `bench-${i + k}`, type: 'log', payload: { message: `bench ${i + k}` }, schedule: { kind: 'interval', seconds: 1 } },
        SYSTEM_ACTOR,
      ),
    ),
  );
}
process.stdout.write(`CREATED ${jobs} in ${Date.now() - started} ms\n`);
process.exit(0);
