// Delayed-run lateness, as the service's callers see it: submits <jobs> bench_transform jobs, each with its own run_at
// spread evenly over the next <spread> seconds (the first one <lead> seconds ahead), <parallel> requests at a time,
// then waits until all ran and reads each job's status: lateness = started_at - run_at (the worker's claim after the
// waker queued it). Prints one JSON line: p50, p99, max, in ms.
// Usage: node bench/node/timers.mjs <api-url> <api-key> [jobs=300] [spread=20] [lead=5] [parallel=16]
const [api, key, jobsArg = '300', spreadArg = '20', leadArg = '5', parallelArg = '16'] = process.argv.slice(2);
const [jobs, spread, lead, parallel] = [jobsArg, spreadArg, leadArg, parallelArg].map(Number);
const headers = { 'Content-Type': 'application/json', 'X-API-Key': key };
const start = Date.now() + lead * 1000;
const ids = [];
let next = 0;
async function submitLane() {
  while (next < jobs) {
    const i = next++;
    const runAt = new Date(start + Math.round((i * spread * 1000) / jobs)).toISOString();
    const response = await fetch(`${api}/api/v1/workflow`, {
      method: 'POST', headers,
      body: JSON.stringify({ workflow_name: 'bench_transform', input_data: { name: `timer ${i}` }, run_at: runAt }),
    });
    if (response.status !== 202) throw new Error(`submit answered ${response.status}: ${await response.text()}`);
    ids.push((await response.json()).job_id);
  }
}
await Promise.all(Array.from({ length: parallel }, submitLane));
if (Date.now() > start) console.error(`warning: submissions took past the first run_at (${Date.now() - start} ms)`);
await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + spread * 1000 - Date.now()) + 2000));

const lateness = [];
for (let i = 0; i < ids.length; i += parallel) {
  const batch = await Promise.all(ids.slice(i, i + parallel).map(async (id) => {
    for (let tries = 0; tries < 300; tries++) {
      const job = await (await fetch(`${api}/api/v1/status/${id}`, { headers })).json();
      if (job.status === 'completed') return Date.parse(job.started_at) - Date.parse(job.run_at);
      if (['failed', 'cancelled'].includes(job.status)) throw new Error(`job ${id} ended ${job.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`job ${id} did not complete`);
  }));
  lateness.push(...batch);
}
lateness.sort((a, b) => a - b);
const at = (q) => lateness[Math.min(lateness.length - 1, Math.ceil(q * lateness.length) - 1)];
console.log(JSON.stringify({ scenario: 'run_at', jobs, spread_s: spread, lateness_ms: { p50: at(0.5), p99: at(0.99), max: lateness.at(-1), min: lateness[0] } }));
