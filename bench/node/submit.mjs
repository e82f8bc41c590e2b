// Independent load client: submits jobs over HTTP with fetch, as the documents' Next.js main app does
// (document 002's POST /api/v1/workflow), with a fixed number of concurrent callers (closed loop).
// Usage: node submit.mjs <api_url> <api_key> <workflow> <jobs> <concurrency> [latencies_file]
// Prints one JSON line: submitted, seconds, requests_per_second, latency p50/p99/max in ms, cpu_ms of this process;
// with latencies_file, also writes each submission's latency (ms, one per line, in the order sent) there.
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const [url, key, workflow, jobsArg = '5000', concurrencyArg = '32', latenciesFile] = process.argv.slice(2);
if (!url || !key || !workflow) {
  console.error('Usage: node submit.mjs <api_url> <api_key> <workflow> <jobs> <concurrency>');
  process.exit(2);
}
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);
const latencies = new Array(jobs);
let next = 0;
let failures = 0;

async function submit(i) {
  const started = performance.now();
  const response = await fetch(`${url}/api/v1/workflow`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': key },
    body: JSON.stringify({ workflow_name: workflow, input_data: { name: `job ${i}`, question: `question ${i}` } }),
  });
  await response.arrayBuffer();
  latencies[i] = performance.now() - started;
  if (response.status !== 202) {
    failures++;
  }
}

async function caller() {
  for (let i = next++; i < jobs; i = next++) {
    await submit(i);
  }
}

const cpuBefore = process.cpuUsage();
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, caller));
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
if (latenciesFile) {
  writeFileSync(latenciesFile, latencies.map((ms) => ms.toFixed(3)).join('\n'));
}
const sorted = latencies.slice().sort((a, b) => a - b);
const at = (p) => Number(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)].toFixed(2));
console.log(JSON.stringify({
  client: 'node-fetch',
  submitted: jobs,
  failures,
  seconds: Number(seconds.toFixed(3)),
  requests_per_second: Math.round(jobs / seconds),
  latency_ms: { p50: at(50), p99: at(99), max: at(100) },
  cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
}));
if (failures > 0) {
  process.exit(1);
}
