// Independent load client: submits jobs over HTTP as the documents' Next.js main app does (document 002's
// POST /api/v1/workflow), with a fixed number of concurrent callers (closed loop), each on its own kept-alive
// connection. CLIENT_TRANSPORT=undici (default) uses undici's connection pool, the HTTP client Node's own fetch is
// built on, without fetch's stream layers; =http uses node:http; =fetch uses fetch, as the main app's code does, which
// costs this process several times the CPU per request and so, on a machine the service shares, measures the client.
// Usage: node submit.mjs <api_url> <api_key> <workflow> <jobs> <concurrency> [latencies_file]
// Prints one JSON line: submitted, seconds, requests_per_second, latency p50/p99/max in ms, cpu_ms of this process,
// started_at_ms (the wall clock when the first submission left); with latencies_file, also writes each submission's
// latency (ms, one per line, in the order sent) there. SUBMIT_PATH (default /api/v1/workflow) posts the same body
// elsewhere: the S2 yardsticks' POST /jobs (bench/yardsticks/run.sh).
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

const [url, key, workflow, jobsArg = '5000', concurrencyArg = '32', latenciesFile] = process.argv.slice(2);
if (!url || !key || !workflow) {
  console.error('Usage: node submit.mjs <api_url> <api_key> <workflow> <jobs> <concurrency>');
  process.exit(2);
}
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);
const transport = process.env.CLIENT_TRANSPORT ?? 'undici';
const path = process.env.SUBMIT_PATH ?? '/api/v1/workflow';
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const pool = new Pool(url, { connections: concurrency });
if (!['undici', 'http', 'fetch'].includes(transport)) {
  console.error(`CLIENT_TRANSPORT must be undici, http or fetch, not ${transport}`);
  process.exit(2);
}
const latencies = new Array(jobs);
let next = 0;
let failures = 0;

function body(i) {
  return JSON.stringify({ workflow_name: workflow, input_data: { name: `job ${i}`, question: `question ${i}` } });
}

async function postWithFetch(i) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': key },
    body: body(i),
  });
  await response.arrayBuffer();
  return response.status;
}

async function postWithUndici(i) {
  const { statusCode, body: response } = await pool.request({
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: body(i),
  });
  await response.dump();
  return statusCode;
}

function postWithHttp(i) {
  const payload = body(i);
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}${path}`, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/json', 'X-API-Key': key, 'Content-Length': Buffer.byteLength(payload) },
    }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}

async function submit(i) {
  const started = performance.now();
  const post = { fetch: postWithFetch, http: postWithHttp, undici: postWithUndici }[transport];
  const status = await post(i);
  latencies[i] = performance.now() - started;
  if (status !== 202) {
    failures++;
  }
}

async function caller() {
  for (let i = next++; i < jobs; i = next++) {
    await submit(i);
  }
}

const cpuBefore = process.cpuUsage();
const startedAt = Date.now();
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
  client: `node-${transport}`,
  submitted: jobs,
  failures,
  seconds: Number(seconds.toFixed(3)),
  requests_per_second: Math.round(jobs / seconds),
  latency_ms: { p50: at(50), p99: at(99), max: at(100) },
  cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
  started_at_ms: startedAt,
}));
agent.destroy();
await pool.close();
if (failures > 0) {
  process.exit(1);
}
