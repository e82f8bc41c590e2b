// The yardstick: BullMQ (queue only: no HTTP, no database) on the same redis-server, same machine, same sitting.
// A producer adds <jobs> jobs with 32 concurrent callers while one worker with <concurrency> slots drains them; the
// figure is jobs / (last completion - first add), and the CPU of this process (producer + worker) per job.
// Usage: node bullmq.mjs <redis_port> [jobs=5000] [concurrency=100]
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';

const [portArg, jobsArg = '5000', concurrencyArg = '100'] = process.argv.slice(2);
const connection = { host: '127.0.0.1', port: Number(portArg) };
const jobs = Number(jobsArg);
const name = `yardstick-${process.pid}`;
const queue = new Queue(name, { connection });
let completed = 0;
let finished;
const done = new Promise((resolve) => { finished = resolve; });
// The same work as the service's one-transform job: build a greeting from the input.
const worker = new Worker(name, async (job) => ({ greeting: `Hello, ${job.data.name}!` }), {
  connection,
  concurrency: Number(concurrencyArg),
});
worker.on('completed', () => {
  if (++completed === jobs) {
    finished();
  }
});
await worker.waitUntilReady();

const cpuBefore = process.cpuUsage();
const started = performance.now();
let next = 0;
await Promise.all(Array.from({ length: 32 }, async () => {
  for (let i = next++; i < jobs; i = next++) {
    await queue.add('transform', { name: `user-${i}` }, { removeOnComplete: true });
  }
}));
await done;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({
  yardstick: 'bullmq',
  jobs,
  concurrency: Number(concurrencyArg),
  seconds: Number(seconds.toFixed(3)),
  jobs_per_second: Math.round(jobs / seconds),
  node_cpu_ms_per_job: Number(((cpu.user + cpu.system) / 1000 / jobs).toFixed(3)),
}));
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
