// Unit tests of the hand-written helpers against a fake fetch (the samples run them against the real service):
// run with `npm test` after `npm run build`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  JobFailedError, LlmWorkflowClient, NotFoundError, RateLimitedError, ValidationError, verifyWebhookPayload, WebhookVerificationError,
} from "../dist/index.js";

const jobId = "6f1c2b1e-8a3d-4d7e-9a51-0c3b9e2f4a10";
const problem = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/problem+json", ...headers } });
const sse = events => events.map(([id, type, data]) => `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ type, job_id: jobId, timestamp: "2026-01-01T00:00:00Z", ...data })}\n\n`).join("");

/** A client whose fetch answers from `answer(request)` and records every request. */
function clientWith(answer) {
  const requests = [];
  const fetch = async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    requests.push(request);
    return answer(request, requests.length);
  };
  return { client: new LlmWorkflowClient({ baseUrl: "http://service", apiKey: "k", fetch }), requests };
}

test("submit sends a generated Idempotency-Key and reports a replay marked Idempotent-Replayed", async () => {
  // The service repeats the first answer (the same 202 and body) and marks it with Idempotent-Replayed: true.
  const { client, requests } = clientWith((_, n) => Response.json(
    { job_id: jobId, status: "queued", workflow_name: "w", created_at: "2026-01-01T00:00:00Z", status_url: "/x", estimated_wait_seconds: 0, run_at: null },
    { status: 202, headers: n === 1 ? {} : { "Idempotent-Replayed": "true" } }));
  const first = await client.submit({ workflow_name: "w" });
  const again = await client.submit({ workflow_name: "w" }, { idempotencyKey: first.idempotencyKey });
  assert.match(first.idempotencyKey, /^[0-9a-f-]{36}$/);
  assert.equal(requests[0].headers.get("Idempotency-Key"), first.idempotencyKey);
  assert.equal(requests[1].headers.get("Idempotency-Key"), first.idempotencyKey);
  assert.deepEqual([first.replayed, again.replayed], [false, true]);
});

test("answers become typed errors by category", async () => {
  const answers = [
    problem(400, { title: "One or more validation errors occurred.", errors: { "input_data.days": ["must be at most 14"] } }),
    problem(404, { title: "Job not found", status: "not_found", http_status: 404 }),
    problem(429, { title: "Too many requests" }, { "retry-after": "7" }),
  ];
  const { client } = clientWith((_, n) => answers[n - 1]);
  const validation = await client.submit({ workflow_name: "w" }).catch(e => e);
  assert.ok(validation instanceof ValidationError);
  assert.deepEqual(validation.errors, { "input_data.days": ["must be at most 14"] });
  const missing = await client.getStatus(jobId).catch(e => e);
  assert.ok(missing instanceof NotFoundError && missing.httpStatus === 404 && missing.kind === "not_found");
  const limited = await client.getStatus(jobId).catch(e => e);
  assert.ok(limited instanceof RateLimitedError && limited.retryAfterSeconds === 7);
});

test("waitForCompletion polls until a terminal status and throws the job's error category", async () => {
  const statuses = ["queued", "processing", "failed"];
  const { client, requests } = clientWith((_, n) => Response.json({
    job_id: jobId, status: statuses[n - 1],
    error: n === 3 ? { type: "parse_error", category: "USER_ERROR", message: "no such section", retryable: false } : null,
  }));
  const failure = await client.waitForCompletion(jobId, { initialDelayMs: 1 }).catch(e => e);
  assert.ok(failure instanceof JobFailedError);
  assert.equal(failure.category, "USER_ERROR");
  assert.equal(failure.retryable, false);
  assert.equal(requests.length, 3);
});

test("events resume a dropped stream with Last-Event-ID and end at the terminal event", async () => {
  const { client, requests } = clientWith((_, n) => new Response(n === 1
    ? sse([["1-0", "run_started", { workflow_name: "w", total_steps: 1 }], ["2-0", "step_started", { step_id: "a" }]])
    : sse([["3-0", "step_completed", { step_id: "a" }], ["4-0", "run_completed", { cost_usd: 0, total_tokens: 0 }]]),
  { headers: { "content-type": "text/event-stream" } }));
  const seen = [];
  for await (const event of client.events(jobId)) seen.push(`${event.id} ${event.type}`);
  assert.deepEqual(seen, ["1-0 run_started", "2-0 step_started", "3-0 step_completed", "4-0 run_completed"]);
  assert.equal(requests[1].headers.get("Last-Event-ID"), "2-0");
});

test("events of a finished job resumed at its end yield nothing (204)", async () => {
  const { client } = clientWith(() => new Response(null, { status: 204 }));
  const seen = [];
  for await (const event of client.events(jobId, { lastEventId: "4-0" })) seen.push(event);
  assert.equal(seen.length, 0);
});

test("verifyWebhook accepts either form of secret and either secret of a rotation, and refuses others", () => {
  const body = JSON.stringify({ event: "workflow.completed", job_id: jobId });
  const timestamp = Math.floor(Date.now() / 1000);
  const key = secret => (secret.startsWith("whsec_") ? Buffer.from(secret.slice(6), "base64") : Buffer.from(secret, "utf8"));
  const sign = secret => `v1,${createHmac("sha256", key(secret)).update(`msg_1.${timestamp}.${body}`).digest("base64")}`;
  const fresh = "whsec_bmV3LXNlY3JldC1ieXRlcy0xMjM0NTY=";
  const headers = { "webhook-id": "msg_1", "webhook-timestamp": String(timestamp), "webhook-signature": `${sign(fresh)} ${sign("old secret")}` };
  assert.equal(verifyWebhookPayload(body, headers, fresh).event, "workflow.completed");
  assert.equal(verifyWebhookPayload(body, headers, "old secret").event, "workflow.completed");
  assert.throws(() => verifyWebhookPayload(body, headers, "another secret"), WebhookVerificationError);
  assert.throws(() => verifyWebhookPayload(body.replace("completed", "failed"), headers, fresh), WebhookVerificationError);
});

test("signal, reschedule and the schedule helpers send the routes and bodies the service reads", async () => {
  const { client, requests } = clientWith(request => Response.json(
    request.url.includes("/signals/") ? { signal_id: jobId, job_id: jobId, event: "payment.received", status: "stored", received_at: "2026-01-01T00:00:00Z" }
      : { schedule_id: jobId, paused: request.method === "PATCH" && !request.url.includes("/jobs/") },
    { status: request.method === "POST" && request.url.endsWith("/schedules") ? 201 : 200 }));
  await client.signal(jobId, "payment.received", { paid: true }, { idempotencyKey: "pay-1" });
  await client.reschedule(jobId, { runAt: new Date("2026-02-01T10:00:00Z") });
  await client.reschedule(jobId, { delaySeconds: 1 });
  await client.createSchedule({ name: "n", workflow_name: "w", cron: "0 3 * * *" }, { idempotencyKey: "s-1" });
  await client.listSchedules({ limit: 5 });
  await client.triggerSchedule(jobId);
  const paused = await client.pauseSchedule(jobId);
  const sent = await Promise.all(requests.map(async r => [r.method, new URL(r.url).pathname + new URL(r.url).search, r.headers.get("Idempotency-Key"), r.body ? await r.text() : null]));
  assert.deepEqual(sent, [
    ["POST", `/api/v1/jobs/${jobId}/signals/payment.received`, "pay-1", '{"paid":true}'],
    ["PATCH", `/api/v1/jobs/${jobId}`, null, '{"run_at":"2026-02-01T10:00:00.000Z"}'],
    ["PATCH", `/api/v1/jobs/${jobId}`, null, '{"delay_seconds":1}'],
    ["POST", "/api/v1/schedules", "s-1", '{"name":"n","workflow_name":"w","cron":"0 3 * * *"}'],
    ["GET", "/api/v1/schedules?limit=5", null, null],
    ["POST", `/api/v1/schedules/${jobId}/trigger`, null, null],
    ["PATCH", `/api/v1/schedules/${jobId}`, null, '{"paused":true}'],
  ]);
  assert.equal(paused.paused, true);
});

test("startProject tells a replay (200) from a new run (202), and waitForProject polls to complete", async () => {
  const statuses = ["generating", "complete"];
  const { client } = clientWith((request, n) => request.method === "POST"
    ? Response.json({ run_id: jobId }, { status: n === 1 ? 202 : 200 })
    : Response.json({ schema_version: "proj.v1", run_id: jobId, status: statuses[n - 3] }));
  const first = await client.startProject({ project_id: "p", chat_id: "c", topic: "t", life_skill: "l", group_size: 3 });
  const again = await client.startProject({ project_id: "p", chat_id: "c", topic: "t", life_skill: "l", group_size: 3 });
  assert.deepEqual([first.replayed, again.replayed], [false, true]);
  const project = await client.waitForProject("p", { initialDelayMs: 1 });
  assert.equal(project.status, "complete");
});
