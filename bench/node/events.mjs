// A job's live-event latency, as a browser or the Node main app sees it: each job is submitted with fetch and, as
// soon as its 202 arrives, watched with the `eventsource` package (the EventSource API) on
// GET /api/v1/jobs/{id}/events. Per job: 202 -> stream open, 202 -> first event (run_started), 202 -> terminal event.
// Jobs run `concurrency` at a time after `warmup` unmeasured ones; prints one JSON line.
// Usage: node bench/node/events.mjs <api-url> <api-key> <workflow> <jobs> [concurrency=1] [warmup=20]
import { EventSource } from 'eventsource';

const [api, key, workflow, jobsArg, concurrencyArg = '1', warmupArg = '20'] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);
const warmup = Number(warmupArg);
const terminal = new Set(['run_completed', 'run_failed', 'cancelled']);
const types = ['run_started', 'step_started', 'step_completed', 'llm_call_completed', ...terminal];
const withKey = (input, init) => fetch(input, { ...init, headers: { ...init?.headers, 'X-API-Key': key } });

async function watchOne(i) {
  const response = await withKey(`${api}/api/v1/workflow`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ workflow_name: workflow, input_data: { name: `events ${i}`, question: `question ${i}` } }),
  });
  const accepted = performance.now();
  if (response.status !== 202) throw new Error(`submit answered ${response.status}: ${await response.text()}`);
  const { job_id: jobId } = await response.json();
  return new Promise((resolve, reject) => {
    const source = new EventSource(`${api}/api/v1/jobs/${jobId}/events`, { fetch: withKey });
    const timer = setTimeout(() => { source.close(); reject(new Error(`job ${jobId}: no terminal event within 60 s`)); }, 60_000);
    const result = {};
    source.onopen = () => { result.open ??= performance.now() - accepted; };
    source.onerror = (error) => { if (source.readyState === EventSource.CLOSED) { clearTimeout(timer); reject(error); } };
    for (const type of types) {
      source.addEventListener(type, () => {
        const at = performance.now() - accepted;
        result.first ??= at;
        result.firstType ??= type;
        if (terminal.has(type)) {
          clearTimeout(timer);
          source.close();
          resolve({ ...result, terminal: at, terminalType: type });
        }
      });
    }
  });
}

async function run(count, offset) {
  const results = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const i = next++;
      results.push(await watchOne(offset + i));
    }
  }));
  return results;
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const summary = (values) => ({ p50: +percentile(values, 50).toFixed(2), p99: +percentile(values, 99).toFixed(2), max: +Math.max(...values).toFixed(2) });

await run(warmup, 0);
const measured = await run(jobs, warmup);
const firstTypes = [...new Set(measured.map((r) => r.firstType))];
const failed = measured.filter((r) => r.terminalType !== 'run_completed').length;
console.log(JSON.stringify({
  jobs, concurrency, workflow, failed, first_event_types: firstTypes,
  open_ms: summary(measured.map((r) => r.open)),
  first_event_ms: summary(measured.map((r) => r.first)),
  terminal_event_ms: summary(measured.map((r) => r.terminal)),
}));
