// (a) Every route's real responses — successes and errors — validated against the live /openapi/v1.json.
import { readFileSync } from "node:fs";
import { adminKey } from "./env.ts";
import { ContractRecorder, parseEvents } from "./contract-recorder.ts";

const api = await ContractRecorder.load();
const missing = "00000000-0000-4000-8000-000000000000";
const example = (name: string) => JSON.parse(readFileSync(new URL(`../../../workflows/examples/${name}.json`, import.meta.url), "utf8"));
const admin = { key: adminKey };

async function submit(workflow: string, input: unknown, extra: Record<string, unknown> = {}): Promise<string> {
  const answer = await api.expect({ method: "POST", route: "/api/v1/workflow", body: { workflow_name: workflow, input_data: input, ...extra } }, 202);
  return answer.json.job_id;
}

async function finished(jobId: string): Promise<any> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const answer = await api.expect({ method: "GET", route: "/api/v1/status/{jobId}", path: { jobId } }, 200);
    if (["completed", "failed", "cancelled"].includes(answer.json?.status)) return answer.json;
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  throw new Error(`job ${jobId} did not finish within 90 s`);
}

// Health, anonymous.
await api.expect({ method: "GET", route: "/api/v1/health", key: null }, 200);

// Workflows: the catalog, every definition, diagrams, dry runs.
const catalog = await api.expect({ method: "GET", route: "/api/v1/workflows" }, 200);
for (const workflow of catalog.json as { name: string }[]) {
  await api.expect({ method: "GET", route: "/api/v1/workflows/{name}", path: { name: workflow.name } }, 200);
  await api.expect({ method: "GET", route: "/api/v1/workflows/{name}/diagram", path: { name: workflow.name } }, 200);
  await api.expect({ method: "POST", route: "/api/v1/workflow/validate", body: { workflow_name: workflow.name, input_data: example(workflow.name) } }, 200);
}
await api.expect({ method: "GET", route: "/api/v1/workflows/{name}", path: { name: "no_such_workflow" } }, 404);
await api.expect({ method: "GET", route: "/api/v1/workflows/{name}/diagram", path: { name: "no_such_workflow" } }, 404);
await api.expect({ method: "POST", route: "/api/v1/workflow/validate", body: { workflow_name: "no_such_workflow" } }, 404);
await api.expect({ method: "POST", route: "/api/v1/workflow/validate", body: {} }, 400);
await api.expect({ method: "POST", route: "/api/v1/workflow/validate", body: { workflow: { name: "broken", steps: [{ id: "x" }] } } }, 400);
await api.expect({ method: "POST", route: "/api/v1/workflow/validate", rawBody: "{not json" }, 400);
await api.expect({ method: "POST", route: "/api/v1/workflow/validate", body: { workflow: { name: "bad_budget", on_budget: "explode", steps: [] } } }, 400);
await api.expect({ method: "GET", route: "/api/v1/usage/budget" }, 200);
await api.expect({ method: "GET", route: "/api/v1/workflows", key: null }, 401);
await api.expect({ method: "GET", route: "/api/v1/workflows", key: "not-a-key" }, 401);

// Submission: 202, the idempotent repeat 200, every kind of 400, 401, 413.
const hello = await submit("hello_transform", { name: "Ada" }, { user_id: "contract-user", username: "ada", action: "contract test" });
const idempotency = { "Idempotency-Key": `contract-${Date.now()}` };
await api.expect({ method: "POST", route: "/api/v1/workflow", headers: idempotency, body: { workflow_name: "hello_transform", input_data: { name: "Idem" } } }, 202);
await api.expect({ method: "POST", route: "/api/v1/workflow", headers: idempotency, body: { workflow_name: "hello_transform", input_data: { name: "Idem" } } }, 202);
await api.expect({ method: "POST", route: "/api/v1/workflow", headers: idempotency, body: { workflow_name: "hello_transform", input_data: { name: "Other" } } }, 422);
await api.expect({ method: "POST", route: "/api/v1/jobs", body: { workflow_name: "hello_transform", input_data: { name: "Alias" } } }, 202);
await api.expect({ method: "POST", route: "/api/v1/jobs", body: { workflow_name: "hello_transform", input_data: {} } }, 400);
for (const body of [
  { workflow_name: "no_such_workflow", input_data: {} },
  { workflow_name: "hello_transform", input_data: { name: 5 } },
  { workflow_name: "hello_transform", input_data: { name: "x" }, priority: 11 },
  { workflow_name: "hello_transform", input_data: { name: "x" }, webhook_url: "ftp://x" },
  { input_data: { name: "x" } },
]) {
  await api.expect({ method: "POST", route: "/api/v1/workflow", body }, 400);
}
await api.expect({ method: "POST", route: "/api/v1/workflow", rawBody: '{"workflow_name": "hello_transform", "input_data": {"name": "x"}, "priority": "high"}' }, 400);
await api.expect({ method: "POST", route: "/api/v1/workflow", rawBody: "{" }, 400);
await api.expect({ method: "POST", route: "/api/v1/workflow", key: null, body: { workflow_name: "hello_transform", input_data: { name: "x" } } }, 401);
await api.expect({ method: "POST", route: "/api/v1/workflow", rawBody: JSON.stringify({ workflow_name: "hello_transform", input_data: { name: "x".repeat(1_100_000) } }) }, 413);

// Status while queued or running, then finished; the alias; 404 and 401.
const trip = await submit("trip_briefing", example("trip_briefing"), { user_id: "contract-user" });
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}", path: { jobId: trip } }, 200);
const tripDone = await finished(trip);
if (tripDone.status !== "completed") api.failures.push(`trip_briefing ended ${tripDone.status}: ${JSON.stringify(tripDone.error)}`);
await finished(hello);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}", path: { jobId: trip } }, 200);
await api.expect({ method: "GET", route: "/api/v1/status/{jobId}", path: { jobId: missing } }, 404);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}", path: { jobId: missing } }, 404);
await api.expect({ method: "GET", route: "/api/v1/status/{jobId}", path: { jobId: trip }, key: null }, 401);

// A failing job (bad model answer is not available offline, so a cancelled one stands in for "not completed").
const toCancel = await submit("trip_briefing", example("trip_briefing"));
await api.expect({ method: "DELETE", route: "/api/v1/workflow/{jobId}", path: { jobId: toCancel } }, 200, 202);
const cancelled = await finished(toCancel);
await api.expect({ method: "DELETE", route: "/api/v1/workflow/{jobId}", path: { jobId: trip } }, 409);
await api.expect({ method: "DELETE", route: "/api/v1/workflow/{jobId}", path: { jobId: missing } }, 404);

// Retry: a cancelled job is queued again (202), a completed one is not (409), a missing one 404.
if (cancelled.status === "cancelled") {
  await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/retry", path: { jobId: toCancel } }, 202);
  await finished(toCancel);
}
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/retry", path: { jobId: trip } }, 409);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/retry", path: { jobId: missing } }, 404);

// Delayed runs: scheduled on submit, rescheduled (200), refused times (400 naming the field), 409 once not scheduled.
const later = await api.expect({ method: "POST", route: "/api/v1/workflow", body: { workflow_name: "hello_transform", input_data: { name: "Later" }, delay_seconds: 3600 } }, 202);
const laterId = later.json?.job_id as string;
if (later.json?.status !== "scheduled" || typeof later.json?.run_at !== "string") api.failures.push(`delay_seconds: expected a scheduled job with run_at, got ${later.text}`);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}", path: { jobId: laterId } }, 200);
await api.expect({ method: "PATCH", route: "/api/v1/jobs/{jobId}", path: { jobId: laterId }, body: { run_at: new Date(Date.now() + 7_200_000).toISOString() } }, 200);
await api.expect({ method: "PATCH", route: "/api/v1/jobs/{jobId}", path: { jobId: laterId }, body: { run_at: "2020-01-01T00:00:00Z" } }, 400);
await api.expect({ method: "PATCH", route: "/api/v1/jobs/{jobId}", path: { jobId: missing }, body: { delay_seconds: 60 } }, 404);

// Fork, compare and versions: the finished trip forked from its first step (202), a bad from_step or override (400), an
// unfinished source (409), a missing one (404); the two compared; the versions the caller's jobs ran.
const tripDefinition = await api.expect({ method: "GET", route: "/api/v1/workflows/{name}", path: { name: "trip_briefing" } }, 200);
const firstStep: string = tripDefinition.json?.steps?.[0]?.id ?? "missing";
const fork = await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/fork", path: { jobId: trip }, body: { from_step: firstStep } }, 202);
const forkId = (fork.json?.job_id as string) ?? missing;
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/fork", path: { jobId: trip }, body: { from_step: "no_such_step" } }, 400);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/fork", path: { jobId: trip }, body: { from_step: firstStep, overrides: { "steps.nope.model": "openai/gpt-4o" } } }, 400);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/fork", path: { jobId: laterId }, body: { from_step: firstStep } }, 409);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/fork", path: { jobId: missing }, body: { from_step: firstStep } }, 404);
await finished(forkId);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}", path: { jobId: forkId } }, 200);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}/compare/{otherId}", path: { jobId: trip, otherId: forkId } }, 200);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}/compare/{otherId}", path: { jobId: trip, otherId: missing } }, 404);
const versions = await api.expect({ method: "GET", route: "/api/v1/workflows/{name}/versions", path: { name: "trip_briefing" } }, 200);
await api.expect({ method: "GET", route: "/api/v1/workflows/{name}/versions/{hash}", path: { name: "trip_briefing", hash: (versions.json?.current_hash as string) ?? "0".repeat(64) } }, 200);
await api.expect({ method: "GET", route: "/api/v1/workflows/{name}/versions/{hash}", path: { name: "trip_briefing", hash: "0".repeat(64) } }, 404);
await api.expect({ method: "GET", route: "/api/v1/workflows/{name}/versions", path: { name: "no_such_workflow" } }, 404);
await api.expect({ method: "POST", route: "/api/v1/workflow", body: { workflow_name: "hello_transform", input_data: { name: "x" }, run_at: "2030-01-01T00:00:00" } }, 400);
await api.expect({ method: "POST", route: "/api/v1/workflow", body: { workflow_name: "hello_transform", input_data: { name: "x" }, run_at: "2030-01-01T00:00:00Z", delay_seconds: 5 } }, 400);
// Signals: kept in the inbox of a job not (yet) waiting for them, listed; 422 for an event its workflow never waits for
// and for a key reused with another body; 409 finished, 404 missing, 400 bad name.
const review = await api.expect({ method: "POST", route: "/api/v1/workflow", body: { workflow_name: "content_approval", input_data: example("content_approval"), delay_seconds: 3600 } }, 202);
const reviewId = review.json?.job_id as string;
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/signals/{event}", path: { jobId: reviewId, event: "approval" }, body: { approved: true } }, 202);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/signals/{event}", path: { jobId: reviewId, event: "approval" }, headers: { "Idempotency-Key": "sig-1" }, body: {} }, 202);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/signals/{event}", path: { jobId: reviewId, event: "approval" }, headers: { "Idempotency-Key": "sig-1" }, body: {} }, 200);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/signals/{event}", path: { jobId: reviewId, event: "approval" }, headers: { "Idempotency-Key": "sig-1" }, body: { approved: false } }, 422);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/signals/{event}", path: { jobId: laterId, event: "approval" }, body: {} }, 422);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}/signals", path: { jobId: reviewId } }, 200);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}/signals", path: { jobId: missing } }, 404);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/signals/{event}", path: { jobId: trip, event: "approval" }, body: {} }, 409);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/signals/{event}", path: { jobId: missing, event: "approval" }, body: {} }, 404);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/signals/{event}", path: { jobId: laterId, event: "not ok" }, body: {} }, 400);
await api.expect({ method: "DELETE", route: "/api/v1/workflow/{jobId}", path: { jobId: laterId } }, 200);
await api.expect({ method: "DELETE", route: "/api/v1/workflow/{jobId}", path: { jobId: reviewId } }, 200);
await api.expect({ method: "PATCH", route: "/api/v1/jobs/{jobId}", path: { jobId: laterId }, body: { delay_seconds: 60 } }, 409);

// Schedules: created (201, the same answer again for a repeated Idempotency-Key, 422 for another body with it), listed, read, paused, ticks, their jobs, deleted (204); 400s, 404s.
const scheduleBody = { name: "contract digest", workflow_name: "hello_transform", cron: "0 9 * * 1-5", timezone: "Europe/Berlin", input_data: { name: "Digest" } };
const schedule = await api.expect({ method: "POST", route: "/api/v1/schedules", headers: { "Idempotency-Key": "schedule-1" }, body: scheduleBody }, 201);
const scheduleId = schedule.json?.schedule_id as string;
if (schedule.json?.next_runs?.length !== 5) api.failures.push(`POST /api/v1/schedules: expected five next_runs, got ${schedule.text}`);
await api.expect({ method: "POST", route: "/api/v1/schedules", headers: { "Idempotency-Key": "schedule-1" }, body: scheduleBody }, 201);
await api.expect({ method: "POST", route: "/api/v1/schedules", headers: { "Idempotency-Key": "schedule-1" }, body: { ...scheduleBody, name: "another" } }, 422);
await api.expect({ method: "POST", route: "/api/v1/schedules", body: { ...scheduleBody, cron: "61 * * * *", timezone: "Mars/Base" } }, 400);
await api.expect({ method: "GET", route: "/api/v1/schedules" }, 200);
await api.expect({ method: "GET", route: "/api/v1/schedules", query: { limit: "0" } }, 400);
await api.expect({ method: "GET", route: "/api/v1/schedules/{scheduleId}", path: { scheduleId } }, 200);
await api.expect({ method: "GET", route: "/api/v1/schedules/{scheduleId}", path: { scheduleId: missing } }, 404);
await api.expect({ method: "PATCH", route: "/api/v1/schedules/{scheduleId}", path: { scheduleId }, body: { paused: true, overlap: "allow" } }, 200);
await api.expect({ method: "PATCH", route: "/api/v1/schedules/{scheduleId}", path: { scheduleId }, body: { catch_up: "sometimes" } }, 400);
await api.expect({ method: "PATCH", route: "/api/v1/schedules/{scheduleId}", path: { scheduleId: missing }, body: { paused: true } }, 404);
await api.expect({ method: "GET", route: "/api/v1/schedules/{scheduleId}/ticks", path: { scheduleId } }, 200);
await api.expect({ method: "GET", route: "/api/v1/schedules/{scheduleId}/ticks", path: { scheduleId: missing } }, 404);
await api.expect({ method: "GET", route: "/api/v1/jobs", query: { schedule_id: scheduleId } }, 200);
await api.expect({ method: "GET", route: "/api/v1/jobs", query: { schedule_id: "nope" } }, 400);
await api.expect({ method: "DELETE", route: "/api/v1/schedules/{scheduleId}", path: { scheduleId } }, 204);
await api.expect({ method: "DELETE", route: "/api/v1/schedules/{scheduleId}", path: { scheduleId } }, 404);

// Lists: every status_filter (document 003's all and running included), limit_results counts and periods, 400s.
for (const status_filter of ["all", "running", "pending", "queued", "processing", "completed", "failed", "cancelled", "scheduled"]) {
  await api.expect({ method: "GET", route: "/api/v1/jobs", query: { status_filter } }, 200);
}
for (const limit_results of ["25", "500", "Today", "7 Days", "30 Days"]) {
  await api.expect({ method: "GET", route: "/api/v1/jobs", query: { limit_results } }, 200);
}
await api.expect({ method: "GET", route: "/api/v1/jobs", query: { user_id: "contract-user", limit: "1", offset: "1" } }, 200);
const badLimit = await api.expect({ method: "GET", route: "/api/v1/jobs", query: { limit_results: "Yesterday" } }, 400);
if (badLimit.json?.error !== "InvalidLimitResults" || !Array.isArray(badLimit.json?.valid_values)) {
  api.failures.push(`limit_results=Yesterday: expected error InvalidLimitResults with valid_values, got ${badLimit.text}`);
}
await api.expect({ method: "GET", route: "/api/v1/jobs", query: { status_filter: "done" } }, 400);
await api.expect({ method: "GET", route: "/api/v1/jobs", query: { limit: "0" } }, 400);
// Sorting and the cost drill-down filters.
await api.expect({ method: "GET", route: "/api/v1/jobs", query: { sort: "cost_usd", order: "asc", limit: "5" } }, 200);
await api.expect({ method: "GET", route: "/api/v1/jobs", query: { model: "mock/lorem", usage_from: new Date(Date.now() - 86_400_000).toISOString(), usage_to: new Date().toISOString() } }, 200);
await api.expect({ method: "GET", route: "/api/v1/jobs", query: { sort: "name" } }, 400);
await api.expect({ method: "GET", route: "/api/v1/jobs", query: { usage_from: "yesterday" } }, 400);

// Events: a finished job's whole stream, then resumed at its terminal event (204), a bad id (400), a missing job (404).
const stream = await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}/events", path: { jobId: trip } }, 200);
const events = parseEvents(stream.text);
const last = events.at(-1);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}/events", path: { jobId: trip }, headers: { "Last-Event-ID": last?.id ?? "0" } }, 204);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}/events", path: { jobId: trip }, query: { last_event_id: last?.id ?? "0" } }, 204);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}/events", path: { jobId: trip }, headers: { "Last-Event-ID": "not-an-id" } }, 400);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}/events", path: { jobId: missing } }, 404);

// Bulk delete.
const doomed = await submit("hello_transform", { name: "Doomed" });
await api.expect({ method: "DELETE", route: "/api/v1/jobs/bulk", body: { job_ids: [doomed, missing] } }, 200);
// The deleted job: 410 Gone on its status, cancel and retry routes (a string status, never the number).
await api.expect({ method: "GET", route: "/api/v1/status/{jobId}", path: { jobId: doomed } }, 410);
await api.expect({ method: "GET", route: "/api/v1/jobs/{jobId}", path: { jobId: doomed } }, 410);
await api.expect({ method: "DELETE", route: "/api/v1/workflow/{jobId}", path: { jobId: doomed } }, 410);
await api.expect({ method: "POST", route: "/api/v1/jobs/{jobId}/retry", path: { jobId: doomed } }, 410);
await api.expect({ method: "DELETE", route: "/api/v1/jobs/bulk", body: { job_ids: [] } }, 400);

// Admin: 200s, 400s, and 403 for a caller key.
await api.expect({ method: "POST", route: "/api/v1/admin/cleanup/stale", ...admin }, 200);
await api.expect({ method: "POST", route: "/api/v1/admin/cleanup/stale", query: { processing_minutes: "0" }, ...admin }, 400);
await api.expect({ method: "POST", route: "/api/v1/admin/cleanup/stale" }, 403);
await api.expect({ method: "POST", route: "/api/v1/admin/cleanup/old", query: { days: "365" }, ...admin }, 200);
await api.expect({ method: "POST", route: "/api/v1/admin/cleanup/old", query: { days: "0" }, ...admin }, 400);
await api.expect({ method: "POST", route: "/api/v1/admin/cleanup/old" }, 403);
await api.expect({ method: "GET", route: "/api/v1/admin/usage", ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/admin/usage", query: { days: "0" }, ...admin }, 400);
await api.expect({ method: "GET", route: "/api/v1/admin/usage" }, 403);
await api.expect({ method: "POST", route: "/api/v1/admin/usage/rebuild", query: { from: "2026-01-01", to: "2026-02-01" }, ...admin }, 200);
await api.expect({ method: "POST", route: "/api/v1/admin/usage/rebuild", query: { from: "2026-02-01", to: "2026-01-01" }, ...admin }, 400);
await api.expect({ method: "POST", route: "/api/v1/admin/usage/rebuild", query: { from: "2026-01-01", to: "2026-02-01" } }, 403);
await api.expect({ method: "GET", route: "/api/v1/admin/queue", ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/admin/queue" }, 403);

// Operators: provider health, pause/resume (admin), retry by filter (dry run, and 400 naming the field).
await api.expect({ method: "GET", route: "/api/v1/admin/providers/health", ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/admin/providers/health" }, 403);
await api.expect({ method: "POST", route: "/api/v1/workflows/{name}/pause", path: { name: "hello_transform" }, body: { reason: "contract" }, ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/admin/pauses", ...admin }, 200);
await api.expect({ method: "POST", route: "/api/v1/workflows/{name}/resume", path: { name: "hello_transform" }, ...admin }, 200);
await api.expect({ method: "POST", route: "/api/v1/workflows/{name}/pause", path: { name: "hello_transform" } }, 403);
await api.expect({ method: "POST", route: "/api/v1/workflows/{name}/pause", path: { name: "no_such_workflow" }, ...admin }, 404);
await api.expect({ method: "POST", route: "/api/v1/jobs/retry", body: { filter: { error_type: "provider_unavailable" }, dry_run: true } }, 200);
await api.expect({ method: "POST", route: "/api/v1/jobs/retry", body: { filter: { status: ["completed"], workflow_name: "hello_transform" }, dry_run: true } }, 400);
await api.expect({ method: "GET", route: "/api/v1/admin/tenants", ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/admin/tenants" }, 403);
await api.expect({ method: "GET", route: "/api/v1/providers/limits", ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/providers/limits" }, 403);
// anthropic: no contract workflow calls it, so its pause holds nothing back.
await api.expect({ method: "POST", route: "/api/v1/providers/{name}/pause", path: { name: "anthropic" }, ...admin }, 200);
await api.expect({ method: "POST", route: "/api/v1/providers/{name}/resume", path: { name: "anthropic" }, ...admin }, 200);
await api.expect({ method: "POST", route: "/api/v1/providers/{name}/pause", path: { name: "no_such_provider" }, ...admin }, 404);
await api.expect({ method: "GET", route: "/api/v1/admin/metrics/jobs", ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/admin/metrics/jobs", query: { bucket: "minute", from: new Date(Date.now() - 3_600_000).toISOString() }, ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/admin/metrics/jobs", query: { bucket: "week" }, ...admin }, 400);
await api.expect({ method: "GET", route: "/api/v1/admin/metrics/jobs" }, 403);

// Webhook admin: every job here got the service's default webhook URL; nothing listens there during this script,
// so attempts fail and dead-letter.
await api.expect({ method: "GET", route: "/api/v1/admin/webhooks/{jobId}", path: { jobId: trip }, ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/admin/webhooks/{jobId}", path: { jobId: trip } }, 403);
await api.expect({ method: "GET", route: "/api/v1/admin/webhooks/dead-letters", ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/admin/webhooks/dead-letters", query: { limit: "0" }, ...admin }, 400);
await api.expect({ method: "POST", route: "/api/v1/admin/webhooks/{jobId}/replay", path: { jobId: missing }, ...admin }, 404);
await api.expect({ method: "POST", route: "/api/v1/admin/webhooks/{jobId}/replay", path: { jobId: trip }, ...admin }, 202, 409);
await api.expect({ method: "POST", route: "/api/v1/admin/webhooks/replay", query: { since: new Date(Date.now() - 3_600_000).toISOString() }, ...admin }, 200);
await api.expect({ method: "POST", route: "/api/v1/admin/webhooks/replay", ...admin }, 400);

// API keys: create (201, secret once), list, get, rotate (201, then 409), revoke; 400s naming fields, 404s, 403 for a caller key.
const createdKey = await api.expect({ method: "POST", route: "/api/v1/admin/keys", body: { name: "contract-app", user_id: "contract-user" }, ...admin }, 201);
const keyId: string = createdKey.json?.key?.id ?? missing;
const secret: string = createdKey.json?.api_key ?? "";
await api.expect({ method: "POST", route: "/api/v1/admin/keys", body: { name: "contract-admin", role: "admin", expires_at: new Date(Date.now() + 86_400_000).toISOString() }, ...admin }, 201);
await api.expect({ method: "POST", route: "/api/v1/admin/keys", body: { name: "has space", role: "root" }, ...admin }, 400);
await api.expect({ method: "POST", route: "/api/v1/admin/keys", body: { name: "contract-app" } }, 403);
await api.expect({ method: "GET", route: "/api/v1/jobs", key: secret }, 200);
const keyList = await api.expect({ method: "GET", route: "/api/v1/admin/keys", ...admin }, 200);
if (keyList.text.includes(secret)) api.failures.push("GET /api/v1/admin/keys lists a secret");
await api.expect({ method: "GET", route: "/api/v1/admin/keys", query: { tenant_id: "contract-app" }, ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/admin/keys" }, 403);
await api.expect({ method: "GET", route: "/api/v1/admin/keys/{keyId}", path: { keyId }, ...admin }, 200);
await api.expect({ method: "GET", route: "/api/v1/admin/keys/{keyId}", path: { keyId: missing }, ...admin }, 404);
await api.expect({ method: "POST", route: "/api/v1/admin/keys/{keyId}/rotate", path: { keyId }, query: { overlap_seconds: "-1" }, ...admin }, 400);
await api.expect({ method: "POST", route: "/api/v1/admin/keys/{keyId}/rotate", path: { keyId }, query: { overlap_seconds: "60" }, ...admin }, 201);
await api.expect({ method: "POST", route: "/api/v1/admin/keys/{keyId}/rotate", path: { keyId }, ...admin }, 409);
await api.expect({ method: "POST", route: "/api/v1/admin/keys/{keyId}/rotate", path: { keyId: missing }, ...admin }, 404);
await api.expect({ method: "POST", route: "/api/v1/admin/keys/{keyId}/revoke", path: { keyId }, ...admin }, 200);
await api.expect({ method: "POST", route: "/api/v1/admin/keys/{keyId}/revoke", path: { keyId: missing }, ...admin }, 404);
await api.expect({ method: "POST", route: "/api/v1/admin/keys/{keyId}/revoke", path: { keyId } }, 403);
await api.expect({ method: "GET", route: "/api/v1/jobs", key: secret }, 401);

// Document 004's generator surface: health (anonymous), start (202, the repeat 200, 400s), status (200, 404, 401),
// the stream's 400 and 404.
await api.expect({ method: "GET", route: "/generator/health", key: null }, 200);
const projectStart = { project_id: "contract-project", chat_id: "contract-chat", topic: "Fractions", life_skill: "Problem Solving", group_size: 3, duration_min: 45, owner_email: "teacher@school.ae" };
await api.expect({ method: "POST", route: "/generator/start", body: projectStart }, 202);
await api.expect({ method: "POST", route: "/generator/start", body: projectStart }, 200);
await api.expect({ method: "POST", route: "/generator/start", body: { ...projectStart, chat_id: "contract-chat-2", group_size: 40 } }, 400);
await api.expect({ method: "POST", route: "/generator/start", body: { chat_id: "contract-chat-3" } }, 400);
await api.expect({ method: "GET", route: "/generator/status/{projectId}", path: { projectId: "contract-project" } }, 200);
await api.expect({ method: "GET", route: "/generator/status/{projectId}", path: { projectId: "no-such-project" } }, 404);
await api.expect({ method: "GET", route: "/generator/status/{projectId}", path: { projectId: "contract-project" }, key: null }, 401);
await api.expect({ method: "GET", route: "/generator/events/stream", query: { run_id: "not-a-run" } }, 400);
await api.expect({ method: "GET", route: "/generator/events/stream", query: { run_id: missing } }, 404);

console.log(api.summary());
if (api.failures.length > 0) {
  console.error(`${api.failures.length} contract failures:\n- ${api.failures.join("\n- ")}`);
  process.exit(1);
}
