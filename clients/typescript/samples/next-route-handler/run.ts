// Runs the sample route handlers under Node as Next.js would (a Request in, a Response out), against a running
// service: submit through the app's route (twice: the second is the same job), follow the job live through the
// package (dropping the connection once and resuming it), read a typed error, and verify the real webhook delivery
// in the webhook route. Environment: LLM_SERVICE_URL, LLM_SERVICE_API_SECRET, LLM_WEBHOOK_SECRET and
// WEBHOOK_RECEIVER_PORT (the port the service's webhook URL points at).
import { createServer } from "node:http";
import { NotFoundError, type LiveEvent } from "@llmworkflow/client";
import { llm } from "./lib/llm.ts";
import * as trips from "./app/api/trips/route.ts";
import * as callback from "./app/api/webhooks/llm-callback/route.ts";

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

const port = Number(process.env.WEBHOOK_RECEIVER_PORT);
const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers(Object.entries(req.headers).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : [])) as [string, string][]);
  const request = new Request(`http://127.0.0.1:${port}${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) });
  const response = req.url === "/api/webhooks/llm-callback" ? await callback.POST(request) : new Response(null, { status: 404 });
  res.writeHead(response.status, { "content-type": "application/json" });
  res.end(await response.text());
});
await new Promise<void>(resolve => server.listen(port, "127.0.0.1", resolve));

try {
  // 1. Submit through the app's route; the same request again is the same job (Idempotency-Key).
  const requestId = `r-${crypto.randomUUID()}`;
  const submit = async () => await (await trips.POST(new Request("http://main-app/api/trips", {
    method: "POST",
    body: JSON.stringify({ requestId, traveler: "Ada", destination: "Lisbon" }),
  }))).json() as { jobId: string; replayed: boolean };
  const first = await submit();
  const second = await submit();
  check(first.jobId && !first.replayed, `first submit: ${JSON.stringify(first)}`);
  check(second.jobId === first.jobId && second.replayed, `the repeated submit started another job: ${JSON.stringify(second)}`);

  // 2. Follow it live: stop after the first step starts (a dropped connection), then resume from that event.
  const seen: LiveEvent[] = [];
  for await (const event of llm.events(first.jobId)) {
    seen.push(event);
    if (event.type === "step_started") break;
  }
  const resumeAt = seen.at(-1)!.id;
  for await (const event of llm.events(first.jobId, { lastEventId: resumeAt })) seen.push(event);
  const ids = seen.map(e => e.id);
  check(new Set(ids).size === ids.length, `an event came twice: ${ids.join(",")}`);
  const last = seen.at(-1)!;
  check(last.type === "run_completed", `the stream ended with ${last.type}`);
  const steps = seen.filter(e => e.type === "step_completed").length;

  // 3. Polling agrees, and a job that does not exist is a typed NotFoundError.
  const status = await llm.waitForCompletion(first.jobId, { timeoutMs: 60_000 });
  check(status.status === "completed" && status.result, `status: ${status.status}`);
  const missing = await llm.getStatus(crypto.randomUUID()).then(() => null, (error: unknown) => error);
  check(missing instanceof NotFoundError && missing.httpStatus === 404, `an unknown job gave ${String(missing)}`);

  // 4. The service's webhook reached the POST handler, which verified its signature.
  const deadline = Date.now() + 60_000;
  let hook = callback.received.find(b => b.job_id === first.jobId);
  while (!hook && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 100));
    hook = callback.received.find(b => b.job_id === first.jobId);
  }
  check(hook?.event === "workflow.completed", `no verified workflow.completed webhook for ${first.jobId}`);

  // 5. A forged delivery is refused.
  const forged = await callback.POST(new Request("http://main-app/api/webhooks/llm-callback", {
    method: "POST",
    headers: { "webhook-id": "msg_forged", "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": "v1,AAAA" },
    body: JSON.stringify({ ...hook, job_id: crypto.randomUUID() }),
  }));
  check(forged.status === 401, `a forged webhook got ${forged.status}`);

  console.log(`typescript sample: job ${first.jobId} ${seen.length} live events (${steps} steps, resumed after ${resumeAt}), ` +
    `webhook ${hook.event} verified, forged webhook refused`);
} finally {
  server.close();
}
