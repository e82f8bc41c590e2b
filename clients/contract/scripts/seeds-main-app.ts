// (c) The documents' main-app code (../seeds) against the service: the submit proxy that sends only
// workflow_name and input_data (the service's default webhook URL brings the result back), the client library, the
// progress poller reading top-level current_step_id, the webhook route and handler (signatures checked by hand as
// document 001 says and by the standardwebhooks package), and the LLM Queue tab's status_filter=all|running; then
// documents 000 and 001's shapes as their clients read them (../seeds/documents-000-001.ts): celery_task_id,
// result.contacts, output and metadata, the webhooks' total_cost_usd and details.service/suggestions, /health's celery.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";
import { receiverPort, webhookSecret } from "./env.ts";
import * as proxy from "../seeds/api-routes.ts";
import { cancelJob, getJobStatus, submitWorkflow } from "../seeds/llm-service-client.ts";
import { createPoll } from "../seeds/job-status-poller.ts";
import { fetchLLMJobs } from "../seeds/llm-queue-tab.ts";
import * as callback from "../seeds/webhook-route.ts";
import type { LLMJobProgress } from "../seeds/types.ts";
import { health001, job001, status000, submit000, type WebhookFailure001, type WebhookSuccess001 } from "../seeds/documents-000-001.ts";

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// The main app's /api/webhooks/llm-callback, served by Node's http module as Next.js would serve the route.
const standard = new Webhook(Buffer.from(webhookSecret, "utf8").toString("base64"));
let standardVerified = 0;
const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString("utf8");
  const headers = new Headers(Object.entries(req.headers).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : [])) as [string, string][]);
  try {
    standard.verify(body, { "webhook-id": headers.get("webhook-id")!, "webhook-timestamp": headers.get("webhook-timestamp")!, "webhook-signature": headers.get("webhook-signature")! });
    standardVerified++;
  } catch (error) {
    console.error(`standardwebhooks refused a delivery: ${error}`);
  }
  const response = req.url === "/api/webhooks/llm-callback"
    ? await callback.POST(new Request(`http://127.0.0.1:${receiverPort}${req.url}`, { method: "POST", headers, body }))
    : new Response("not found", { status: 404 });
  res.writeHead(response.status, { "content-type": "application/json" });
  res.end(await response.text());
});
await new Promise<void>(resolve => server.listen(receiverPort, "127.0.0.1", resolve));

try {
  // 1. The submit proxy, exactly as printed: no webhook_url, no user_id. The default webhook URL delivers.
  const proxied = await (await proxy.POST(new Request("http://main-app/api/llm-service/jobs", {
    method: "POST",
    body: JSON.stringify({ workflow_name: "hello_transform", input_data: { name: "Ada" } }),
  }))).json() as { job_id: string; status: string };
  check(proxied.status === "queued" && proxied.job_id, `the proxy got ${JSON.stringify(proxied)}`);
  const proxiedHook = await until("the proxied job's webhook", () => callback.received.find(p => p.job_id === proxied.job_id));
  check(proxiedHook.event === "workflow.completed" && proxiedHook.result.output.greeting === "Hello, Ada!", `webhook: ${JSON.stringify(proxiedHook)}`);

  // 2. The mission flow: server action, progress page poller, webhook handler.
  const userId = "seed-user-1";
  const inputData = JSON.parse(readFileSync(new URL("../../../workflows/examples/mission_generation.json", import.meta.url), "utf8"));
  const { jobId } = await submitWorkflow("mission_generation", inputData, userId);
  callback.missionReports.set("report-1", { id: "report-1", userId, jobId, status: "generating", reportData: { formData: inputData.formData } });

  const shown: LLMJobProgress[] = [];
  let polling = true, completed = false, runningListed = false;
  const poll = createPoll("report-1", jobId, {
    fetchStatus: id => fetch(`${process.env.LLM_SERVICE_URL}/api/v1/jobs/${id}`, { headers: { "X-API-Secret": process.env.LLM_SERVICE_API_SECRET! } }),
    setProgress: progress => shown.push(progress),
    setIsPolling: value => { polling = value; },
    onComplete: () => { completed = true; },
    onError: error => { throw new Error(`the poller reported: ${error}`); },
  });
  while (polling) {
    await poll();
    const last = shown.at(-1);
    if (polling && last?.currentStep === "Generating Mission Plan" && !runningListed) {
      // The LLM Queue tab's "Running" filter lists it while it runs (or it just finished).
      const running = await fetchLLMJobs("running");
      runningListed = running.jobs.some(j => j.job_id === jobId) || (await getJobStatus(jobId)).status !== "processing";
      check(runningListed, `status_filter=running did not list the running job ${jobId}`);
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  check(completed, "the poller saw the job complete");
  const steps = [...new Set(shown.map(p => `${p.currentStep} ${p.percentage}%`))];
  check(steps.includes("Generating Mission Plan 90%"), `the progress page showed only: ${steps.join(" | ")}`);
  check(runningListed, "the running job was looked for in status_filter=running");

  const report = await until("the mission report update", () => {
    const row = callback.missionReports.get("report-1");
    return row?.status === "completed" ? row : undefined;
  });
  check(report.reportData.content.length > 0 && report.reportData.sections.executiveSummary && report.reportData.metadata.tokensUsed > 0,
    `the handler built the report from result.output: ${JSON.stringify(report.reportData.metadata)}`);

  // 3. The LLM Queue tab: all and running (document 003's existing values), completed/failed, counts and periods.
  const everything = await fetchLLMJobs("all", "25");
  check(everything.jobs.some(j => j.job_id === jobId), "status_filter=all lists the mission job");
  const done = await fetchLLMJobs("completed", "Today");
  check(done.jobs.every(j => j.status === "completed") && done.jobs.some(j => j.job_id === jobId), "status_filter=completed&limit_results=Today");
  const failed = await fetchLLMJobs("failed", "7 Days");
  check(failed.jobs.every(j => j.status === "failed"), "status_filter=failed");
  const runningNow = await fetchLLMJobs("running", "30 Days");
  check(runningNow.jobs.every(j => j.status === "processing"), "status_filter=running lists only processing jobs");

  // 4. Cancel by delete, as document 002 does it: the progress page's poller runs while the user deletes the report,
  // whose server action calls cancelJob() (DELETE /api/v1/jobs/bulk). The running job is cancelled first (the main
  // app gets workflow.cancelled), then deleted; its status URL answers 410 with the string status "failed", so the
  // poller, which stops only on completed or failed, stops and shows error_message.
  const running = await submitWorkflow("trip_briefing", { traveler: "Ada", destination: "Faro", start_date: "2026-07-01", days: 2, interests: ["beaches"] }, userId);
  let deletedPolling = true, deletedError: string | undefined, polls = 0;
  const pollDeleted = createPoll("report-2", running.jobId, {
    fetchStatus: id => fetch(`${process.env.LLM_SERVICE_URL}/api/v1/jobs/${id}`, { headers: { "X-API-Secret": process.env.LLM_SERVICE_API_SECRET! } }),
    setProgress: () => {},
    setIsPolling: value => { deletedPolling = value; },
    onComplete: () => { throw new Error("the deleted job's poller saw it complete"); },
    onError: error => { deletedError = error; },
  });
  await until("the trip_briefing job to run", async () => (await getJobStatus(running.jobId)).status === "processing" ? true : undefined);
  await pollDeleted();
  check(deletedPolling, "the poller keeps polling a running job");
  check((await cancelJob(running.jobId)).deleted, "cancelJob deleted the running job");
  for (; deletedPolling && polls < 20; polls++) {
    await pollDeleted();
    if (deletedPolling) await new Promise(resolve => setTimeout(resolve, 200));
  }
  check(!deletedPolling, `the poller still polls the deleted job after ${polls} polls`);
  check(deletedError?.includes("was deleted"), `the poller showed: ${deletedError}`);
  const gone = await fetch(`${process.env.LLM_SERVICE_URL}/api/v1/status/${running.jobId}`, { headers: { "X-API-Secret": process.env.LLM_SERVICE_API_SECRET! } });
  const goneBody = await gone.json() as { status: unknown; http_status: number; deleted_at: string; error: { type: string } };
  check(gone.status === 410 && typeof goneBody.status === "string" && goneBody.http_status === 410 && goneBody.deleted_at
    && goneBody.error.type === "job_deleted", `the deleted job's status URL: ${gone.status} ${JSON.stringify(goneBody)}`);
  const cancelledHook = await until("the deleted job's workflow.cancelled webhook",
    () => callback.received.find(p => p.job_id === running.jobId && p.event === "workflow.cancelled"));
  check(cancelledHook.status === "cancelled", `cancelled webhook: ${JSON.stringify(cancelledHook)}`);

  // The dashboard's proxy route (DELETE /api/v1/jobs/bulk too) on a job that may still be queued: cancelled, then deleted.
  const toCancel = await submitWorkflow("trip_briefing", { traveler: "Bo", destination: "Faro", start_date: "2026-07-01", days: 2, interests: ["beaches"] });
  const cancelled = await (await proxy.CANCEL(new Request("http://main-app/x", { method: "POST" }), { params: Promise.resolve({ jobId: toCancel.jobId }) })).json() as { deleted: number };
  check(cancelled.deleted === 1, `the cancel route deleted ${JSON.stringify(cancelled)}`);
  await until("the proxied delete's workflow.cancelled webhook",
    () => callback.received.find(p => p.job_id === toCancel.jobId && p.event === "workflow.cancelled"));
  const again = await submitWorkflow("hello_transform", { name: "Bo" });
  check((await cancelJob(again.jobId)).deleted, "cancelJob deleted the job");

  // 5. Documents 000 and 001's clients, reading the fields as those documents print them, from real answers and webhooks.
  const contactsInput = JSON.parse(readFileSync(new URL("../../../workflows/examples/emergency_contacts.json", import.meta.url), "utf8"));
  const accepted000 = await submit000("emergency_contacts", contactsInput);
  check(accepted000.celery_task_id === accepted000.job_id && accepted000.status === "queued", `000's submit answer: ${JSON.stringify(accepted000)}`);
  const status = await until("the emergency_contacts job", async () => {
    const answer = await status000(accepted000.job_id);
    return answer.status === "completed" || answer.status === "failed" ? answer : undefined;
  });
  const contacts = status.result?.contacts as { name: string; phone: string }[] | undefined;
  check(status.status === "completed" && Array.isArray(contacts) && contacts.length > 0 && contacts[0].name && status.result!.cost_data.total_tokens >= 0,
    `000's client reads result.contacts and result.cost_data: ${JSON.stringify(status).slice(0, 800)}`);
  const job = await job001(accepted000.job_id);
  check(Array.isArray(job.output?.contacts) && typeof job.metadata.total_cost_usd === "number" && typeof job.metadata.total_tokens === "number"
    && typeof job.metadata.duration_ms === "number", `001's client reads output and metadata: ${JSON.stringify(job.metadata)}`);
  const success = await until("the emergency_contacts webhook", () => callback.received.find(p => p.job_id === accepted000.job_id)) as WebhookSuccess001;
  check(success.event === "workflow.completed" && typeof success.metadata.total_cost_usd === "number"
    && success.metadata.total_cost_usd === (success.metadata as unknown as { cost_usd: number }).cost_usd, `001's success payload: ${JSON.stringify(success.metadata)}`);
  // A budget below the model's worst case fails the llm step before it is called: 001's failure payload.
  const overBudget = await fetch(`${process.env.LLM_SERVICE_URL}/api/v1/workflow`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-API-Key": process.env.LLM_SERVICE_API_SECRET! },
    body: JSON.stringify({ workflow_name: "emergency_contacts", input_data: contactsInput, budget_usd: 0.000001 }),
  });
  const { job_id: failingId } = await overBudget.json() as { job_id: string };
  const failure = await until("the failed job's webhook", () => callback.received.find(p => p.job_id === failingId && p.event === "workflow.failed")) as WebhookFailure001;
  check(typeof failure.error.details?.service === "string" && failure.error.details.service.length > 0 && Array.isArray(failure.error.details.suggestions)
    && failure.error.details.suggestions.length > 0, `001's failure payload: ${JSON.stringify(failure.error)}`);
  for (const path of ["/health", "/api/v1/health"] as const) {
    const health = await health001(path);
    check(typeof health.services.celery.workers === "number" && health.services.celery.workers >= 1 && health.services.celery.status === "healthy"
      && health.services.database.type === "postgresql", `001's client reads ${path}: ${JSON.stringify(health.services)}`);
  }

  check(standardVerified === callback.received.length && standardVerified >= 2,
    `standardwebhooks verified ${standardVerified} of ${callback.received.length} deliveries`);
  console.log(`main app: progress shown ${steps.join(" -> ")}; ${callback.received.length} webhooks received, ` +
    `all verified by hand-made HMAC and standardwebhooks; report ${report.status} with ${report.reportData.metadata.tokensUsed} tokens; ` +
    `the poller of a job deleted while running stopped after ${polls} poll(s) with "${deletedError}"; ` +
    `documents 000/001: ${contacts.length} result.contacts, metadata.total_cost_usd ${job.metadata.total_cost_usd}, ` +
    `failure details.service ${failure.error.details!.service}, celery workers ${(await health001("/health")).services.celery.workers}`);
} finally {
  server.close();
}
