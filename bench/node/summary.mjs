// Medians and ranges of the JSON lines bench/run.sh wrote, grouped by scenario (or yardstick) and client; for e2e, the
// ratio of ours to each yardstick's jobs/s, round by round (the k-th run of each is from the k-th round).
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8').trim().split('\n').map((line) => JSON.parse(line));
const metrics = ['jobs_per_second', 'requests_per_second', 'p99_ms', 'submit_p99_ms', 'makespan_seconds', 'worker_peak_memory_mb', 'seconds', 'node_cpu_ms_per_job',
  'open_ms.p50', 'first_event_ms.p50', 'first_event_ms.p99', 'terminal_event_ms.p50', 'terminal_event_ms.p99',
  // The agent scenario (bench/LlmWorkflow.LoadTest/AgentScenario.cs).
  'cpu_ms_per_added_turn.service', 'cpu_ms_per_added_turn.workers', 'cpu_ms_per_added_turn.postgres', 'cpu_ms_per_added_turn.redis',
  'cpu_ms_per_added_turn.api', 'pg_transactions_per_added_turn', 'tool_call_gap_ms.p50', 'tool_call_gap_ms.p99', 'added_ms_per_turn'];
const get = (row, path) => path.split('.').reduce((value, key) => value?.[key], row);
const groups = new Map();
for (const row of rows) {
  const key = `${row.yardstick ?? row.scenario}${row.build ? `, ${row.build} build` : ''}${row.client ? ` (${row.client} client)` : ''}`;
  groups.set(key, [...(groups.get(key) ?? []), row]);
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
for (const [key, group] of groups) {
  const parts = metrics.filter((metric) => typeof get(group[0], metric) === 'number').map((metric) => {
    const values = group.map((row) => get(row, metric));
    return `${metric} ${median(values)} [${Math.min(...values)}-${Math.max(...values)}]`;
  });
  const cpu = group.map((row) => row.cpu_ms_per_job?.total ?? row.cpu_ms_per_request?.total).filter((v) => typeof v === 'number');
  if (cpu.length) {
    parts.push(`cpu_ms_total ${median(cpu)} [${Math.min(...cpu)}-${Math.max(...cpu)}]`);
  }
  console.log(`${key}, ${group.length} runs: ${parts.join(', ')}`);
}
// Ours: the end-to-end runs of the head build; each yardstick's runs (BullMQ, Hangfire, graphile-worker) beside them.
const jobsPerSecond = (group) => group.map((row) => row.jobs_per_second);
const ours = [...groups].filter(([, group]) => group[0].scenario === 'end_to_end' && !group[0].yardstick && !group[0].build);
const yardsticks = [...groups].filter(([, group]) => group[0].yardstick && typeof group[0].jobs_per_second === 'number');
for (const [oursKey, oursGroup] of ours) {
  for (const [key, group] of yardsticks) {
    const ratios = jobsPerSecond(oursGroup).slice(0, group.length)
      .map((value, round) => Number((value / group[round].jobs_per_second).toFixed(2)));
    const ofMedians = (median(jobsPerSecond(oursGroup)) / median(jobsPerSecond(group))).toFixed(2);
    console.log(`${oursKey} / ${key}: ${ofMedians}x (medians); by round ${median(ratios).toFixed(2)}x [${Math.min(...ratios)}-${Math.max(...ratios)}]`);
  }
}
