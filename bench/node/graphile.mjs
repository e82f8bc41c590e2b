// The S2 yardstick a Node team would pick: graphile-worker 0.18 on PostgreSQL. A node:http server whose POST /jobs
// reads a submission as the API's POST /api/v1/workflow does and adds the same trivial job through one WorkerUtils,
// and a runner in the same process draining them: graphile-worker's defaults (LISTEN/NOTIFY, 2 s poll fallback,
// pools of 10, prepared statements, its console logger) but 10 concurrent jobs instead of its default 1, the same as
// Hangfire's default worker count on 2 cores. GET /stats: how many jobs were accepted and how many are still in its
// jobs table (a job's row is deleted when it completes), so the driver (bench/yardsticks/run.sh) can wait for the drain.
// Usage: node graphile.mjs <postgres_url> <port> [concurrency=10]
import http from 'node:http';
import { makeWorkerUtils, run } from 'graphile-worker';

const [connectionString, portArg, concurrencyArg = '10'] = process.argv.slice(2);
if (!connectionString || !portArg) {
  console.error('Usage: node graphile.mjs <postgres_url> <port> [concurrency=10]');
  process.exit(2);
}
const utils = await makeWorkerUtils({ connectionString });
await utils.migrate();
const runner = await run({
  connectionString,
  concurrency: Number(concurrencyArg),
  noHandleSignals: true,
  // The same work as the service's one-transform job and BullMQ's: a greeting built from the input.
  taskList: { transform: async (payload) => ({ greeting: `Hello, ${payload.name}!` }) },
});
let accepted = 0;

async function readJson(request) {
  const chunks = [];
  for await (const chunk of request) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function answer(response, status, body) {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

async function handle(request, response) {
  if (request.method === 'POST' && request.url === '/jobs') {
    const submission = await readJson(request);
    const job = await utils.addJob('transform', { name: submission.input_data?.name ?? '' });
    accepted++;
    answer(response, 202, { job_id: job.id, status: 'queued' });
  } else if (request.method === 'GET' && request.url === '/stats') {
    const { rows } = await utils.withPgClient((client) => client.query('SELECT count(*)::int AS pending FROM graphile_worker.jobs'));
    answer(response, 200, { accepted, pending: rows[0].pending, succeeded: accepted - rows[0].pending });
  } else if (request.method === 'GET' && request.url === '/health') {
    answer(response, 200, { status: 'Healthy' });
  } else {
    answer(response, 404, { error: 'not found' });
  }
}

const server = http.createServer((request, response) => {
  handle(request, response).catch((error) => answer(response, 500, { error: String(error) }));
});
server.keepAliveTimeout = 60_000;
server.listen(Number(portArg), '127.0.0.1');

async function stop() {
  server.close();
  await runner.stop();
  await utils.release();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
