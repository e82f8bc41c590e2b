// A new Node app that installed the packed @llmworkflow/client tarball: compiled with tsc --strict, then run against
// the service (LLM_SERVICE_URL, LLM_SERVICE_API_SECRET). Prints one line per checked helper; exits 1 on a mismatch.
import { LlmWorkflowClient, NotFoundError, type JobStatusResponse } from "@llmworkflow/client";

const llm = new LlmWorkflowClient({ baseUrl: process.env.LLM_SERVICE_URL!, apiKey: process.env.LLM_SERVICE_API_SECRET! });
const check = (ok: boolean, what: string): void => {
  if (!ok) throw new Error(`npm app: ${what}`);
};
const waitOptions = { initialDelayMs: 200, timeoutMs: 120_000 };

const greeting = await llm.submit({ workflow_name: "hello_transform", input_data: { name: "npm" } });
const done: JobStatusResponse = await llm.waitForCompletion(greeting.job_id, waitOptions);
console.log(`npm app: job ${done.job_id} ${done.status}`);

const order = await llm.submit({
  workflow_name: "order_payment",
  input_data: { order_id: "A-1", customer_name: "Ada", items: ["tea"], total: "EUR 4.50" },
});
const signal = await llm.signal(order.job_id, "payment.received", { paid: true, payment_id: "pay_npm_1" }, { idempotencyKey: `pay-${order.job_id}` });
const paid = await llm.waitForCompletion(order.job_id, waitOptions);
console.log(`npm app: signal ${signal.event} ${signal.status}, order job ${paid.status}`);

const later = await llm.submit({ workflow_name: "hello_transform", input_data: { name: "later" }, delay_seconds: 3600 });
await llm.reschedule(later.job_id, { delaySeconds: 1 });
console.log(`npm app: rescheduled job ${(await llm.waitForCompletion(later.job_id, waitOptions)).status}`);

const schedule = await llm.createSchedule({ name: `npm-${Date.now()}`, workflow_name: "hello_transform", cron: "0 3 * * *", input_data: { name: "cron" } });
const listed = await llm.listSchedules({ limit: 100 });
check(listed.schedules.some((s) => s.schedule_id === schedule.schedule_id), "the new schedule is not listed");
await llm.triggerSchedule(schedule.schedule_id);
const paused = await llm.pauseSchedule(schedule.schedule_id);
check(paused.paused, "the schedule was not paused");
await llm.api.DELETE("/api/v1/schedules/{scheduleId}", { params: { path: { scheduleId: schedule.schedule_id } } });
console.log("npm app: schedule created, listed, triggered, paused");

try {
  await llm.getStatus("00000000-0000-0000-0000-000000000000");
  check(false, "an unknown job did not throw");
} catch (error) {
  check(error instanceof NotFoundError, `an unknown job threw ${String(error)}`);
}

const projectId = `npm-${Date.now()}`;
await llm.startProject({ project_id: projectId, chat_id: "chat-1", topic: "fractions", life_skill: "budgeting", group_size: 3, duration_min: 45 });
const project = await llm.waitForProject(projectId, waitOptions);
console.log(`npm app: typed 404, project ${project.status}`);
