// Jobs that wait, as the service's callers see them (bench/timers.sh runs it against bench/workflows):
//   sleep <jobs> <spread> <lead> <parallel>   bench_sleep jobs sleeping until times spread over <spread> s starting
//        <lead> s ahead; wake-up lateness = the started_at of the step after the sleep - its until.
//   signal <jobs> <parallel> [spread]         bench_wait jobs parked on the event 'go'; once all wait, one signal each,
//        <parallel> clients at a time; latency = the started_at of the step after the wait - when the 202 arrived.
//        With <spread> s, the signals are paced evenly over it (scenario signal_paced: one signal's own path, as a
//        main app sends them); without, they go as fast as the clients can (a burst: the resumes queue behind each other).
//   park <jobs> <parallel>                    <jobs> parked jobs, half sleeping for a day, half waiting for 'go';
//        returns once they are submitted (the shell script counts them waiting and measures what they cost).
// Prints one JSON line.
const [api, key, mode, ...rest] = process.argv.slice(2);
const headers = { 'Content-Type': 'application/json', 'X-API-Key': key };
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function submit(body) {
  const response = await fetch(`${api}/api/v1/workflow`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (response.status !== 202) throw new Error(`submit answered ${response.status}: ${await response.text()}`);
  return (await response.json()).job_id;
}

// Runs work(i) for i in 0..count-1, <parallel> at a time; returns the results in order.
async function lanes(count, parallel, work) {
  const results = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const i = next++;
      results[i] = await work(i);
    }
  }));
  return results;
}

async function status(id) {
  return (await fetch(`${api}/api/v1/status/${id}`, { headers })).json();
}

async function until(id, accept, what) {
  for (let tries = 0; tries < 1200; tries++) {
    const job = await status(id);
    if (accept(job)) return job;
    if (['failed', 'cancelled'].includes(job.status)) throw new Error(`job ${id} ended ${job.status}`);
    await pause(100);
  }
  throw new Error(`job ${id} was not ${what}`);
}

const stepStart = (job, step) => Date.parse(job.steps.find((s) => s.step_id === step).started_at);

function percentiles(values) {
  values.sort((a, b) => a - b);
  const at = (q) => values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)];
  return { p50: at(0.5), p99: at(0.99), max: values.at(-1), min: values[0] };
}

async function sleepLateness(jobs, spread, lead, parallel) {
  const start = Date.now() + lead * 1000;
  const wakes = Array.from({ length: jobs }, (_, i) => start + Math.round((i * spread * 1000) / jobs));
  const ids = await lanes(jobs, parallel, (i) => submit({ workflow_name: 'bench_sleep', input_data: { until: new Date(wakes[i]).toISOString() } }));
  if (Date.now() > start) console.error(`warning: submissions took past the first wake-up (${Date.now() - start} ms)`);
  await pause(Math.max(0, start + spread * 1000 - Date.now()) + 2000);
  const lateness = await lanes(jobs, parallel, async (i) => stepStart(await until(ids[i], (j) => j.status === 'completed', 'completed'), 'after') - wakes[i]);
  return { scenario: 'sleep', jobs, spread_s: spread, lateness_ms: percentiles(lateness) };
}

async function signalLatency(jobs, parallel, spread = 0) {
  const ids = await lanes(jobs, parallel, () => submit({ workflow_name: 'bench_wait', input_data: {} }));
  await lanes(jobs, parallel, (i) => until(ids[i], (j) => j.status === 'waiting', 'waiting'));
  const start = Date.now();
  const answered = await lanes(jobs, parallel, async (i) => {
    await pause(Math.max(0, start + (i * spread * 1000) / jobs - Date.now()));
    const response = await fetch(`${api}/api/v1/jobs/${ids[i]}/signals/go`, { method: 'POST', headers, body: JSON.stringify({ note: `go ${i}` }) });
    const at = Date.now();
    if (response.status !== 202) throw new Error(`signal answered ${response.status}: ${await response.text()}`);
    await response.arrayBuffer();
    return at;
  });
  const latency = await lanes(jobs, parallel, async (i) => stepStart(await until(ids[i], (j) => j.status === 'completed', 'completed'), 'after') - answered[i]);
  return { scenario: spread > 0 ? 'signal_paced' : 'signal', jobs, parallel, ...(spread > 0 ? { spread_s: spread } : {}), resume_after_202_ms: percentiles(latency) };
}

async function park(jobs, parallel) {
  const day = new Date(Date.now() + 86_400_000).toISOString();
  const began = Date.now();
  await lanes(jobs, parallel, (i) => submit(i % 2 === 0
    ? { workflow_name: 'bench_sleep', input_data: { until: day } }
    : { workflow_name: 'bench_wait', input_data: {} }));
  return { scenario: 'park', jobs, submit_s: (Date.now() - began) / 1000 };
}

const numbers = rest.map(Number);
const result = mode === 'sleep' ? await sleepLateness(...(numbers.length ? numbers : [300, 20, 5, 16]))
  : mode === 'signal' ? await signalLatency(...(numbers.length ? numbers : [300, 4]))
  : mode === 'park' ? await park(...(numbers.length ? numbers : [20000, 32]))
  : (() => { throw new Error(`unknown mode ${mode}: sleep, signal or park`); })();
console.log(JSON.stringify(result));
