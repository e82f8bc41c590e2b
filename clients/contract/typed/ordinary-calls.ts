// (b) Ordinary calls through a client generated from the live document (openapi-typescript + openapi-fetch).
// `tsc` checks this file against the generated types first (the @ts-expect-error lines must be errors), then it runs
// against the service.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/llmworkflow.js";
import { adminKey, callerKey, serviceUrl } from "../scripts/env.ts";

type Schemas = components["schemas"];
type JobStatus = Schemas["JobStatus"];
type ErrorCategory = Schemas["ErrorCategory"];

const client = createClient<paths>({ baseUrl: serviceUrl, headers: { "X-API-Key": callerKey } });
const admin = createClient<paths>({ baseUrl: serviceUrl, headers: { "X-API-Key": adminKey } });

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Every status is handled; adding one to the API makes this stop compiling. */
function describe(status: JobStatus): string {
  switch (status) {
    case "pending": case "queued": return "waiting";
    case "scheduled": return "waiting for its run_at";
    case "waiting": return "parked (sleep or signal)";
    case "processing": return "running";
    case "completed": return "done";
    case "failed": case "cancelled": return "stopped";
    default: { const never: never = status; return never; }
  }
}

// Submit with arbitrary input_data: any JSON object is accepted.
const submitted = await client.POST("/api/v1/workflow", {
  body: {
    workflow_name: "trip_briefing",
    input_data: { traveler: "Ada", destination: "Lisbon", start_date: "2026-05-12", days: 3, interests: ["food", "tiles"] },
    user_id: "typed-client",
    username: "ada",
    action: "typed client test",
    priority: 5,
  },
});
check(submitted.response.status === 202 && submitted.data, `submit answered ${submitted.response.status}: ${JSON.stringify(submitted.error)}`);
const jobId: string = submitted.data.job_id;
const waitSeconds: number = submitted.data.estimated_wait_seconds;
check(submitted.data.status === "queued" && waitSeconds >= 0, "a new job is queued");

// Poll until it is finished; the progress fields are typed.
let status: Schemas["JobStatusResponse"] | undefined;
for (const deadline = Date.now() + 90_000; Date.now() < deadline;) {
  const { data, error } = await client.GET("/api/v1/status/{jobId}", { params: { path: { jobId } } });
  check(data, `status answered ${JSON.stringify(error)}`);
  status = data;
  const percent: number = data.progress_percent;
  const step: string | null = data.current_step_name;
  if (describe(data.status) === "done" || describe(data.status) === "stopped") break;
  check(percent >= 0 && percent <= 100 && (step === null || step.length > 0), "progress is a percent");
  await new Promise(resolve => setTimeout(resolve, 250));
}
check(status?.status === "completed", `the job ended ${status?.status}`);

// result.cost_data is typed: numbers are numbers, cost can be null only when unpriced.
const result = status.result;
check(result, "a completed job has a result");
const tokens: number = result.cost_data.total_tokens;
const cost: number | null = result.cost_data.cost_usd;
check(tokens === result.cost_data.input_tokens + result.cost_data.output_tokens, "total_tokens = input + output");
check(cost === null ? result.cost_data.unpriced : cost >= 0, "cost_usd is a non-negative number unless unpriced");
const steps: Schemas["JobStepResponse"][] = status.steps;
check(steps.every(s => ["completed", "failed", "skipped", "continued_after_error", "defaulted"].includes(s.status)), "step statuses are the enum");

// error.category is a union of the taxonomy.
const categoryOf = (job: Schemas["JobStatusResponse"]): ErrorCategory | undefined => job.error?.category;
check(categoryOf(status) === undefined, "a completed job has no error");

// Lists with document 003's filters.
const running = await client.GET("/api/v1/jobs", { params: { query: { status_filter: "running", limit_results: "Today" } } });
check(running.data && running.data.jobs.every(j => j.status === "processing"), "running lists processing jobs");
const all = await client.GET("/api/v1/jobs", { params: { query: { status_filter: "all", user_id: "typed-client" } } });
check(all.data && all.data.jobs.some(j => j.job_id === jobId && j.username === "ada" && j.action === "typed client test"), "the job is listed with username and action");
const badLimit = await client.GET("/api/v1/jobs", { params: { query: { limit_results: "Yesterday" } } });
const problem = badLimit.error;
check(badLimit.response.status === 400 && problem && "valid_values" in problem, "bad limit_results is a 400 with valid_values");
check(problem.error === "InvalidLimitResults" && problem.valid_values?.includes("Today"), "bad limit_results names the valid values");

// Typed errors: 404 is a problem.
const missing = await client.GET("/api/v1/status/{jobId}", { params: { path: { jobId: "00000000-0000-4000-8000-000000000000" } } });
check(missing.response.status === 404 && missing.error?.title === "Job not found", "a missing job is a 404 problem");

// The catalog and an admin call.
const workflows = await client.GET("/api/v1/workflows");
check(workflows.data?.some(w => w.name === "trip_briefing" && w.step_count > 0), "the catalog lists trip_briefing");
const usage = await admin.GET("/api/v1/admin/usage", { params: { query: { days: 1 } } });
check(usage.response.status === 200, `usage answered ${usage.response.status}`);

// API keys: the secret is typed and returned once; the list carries roles and states as unions.
const createdKey = await admin.POST("/api/v1/admin/keys", { body: { name: "typed-client-app", role: "caller" } });
check(createdKey.response.status === 201 && createdKey.data, `create key answered ${createdKey.response.status}`);
const secret: string = createdKey.data.api_key;
const keyRole: Schemas["ApiKeyRole"] = createdKey.data.key.role;
check(secret.startsWith(createdKey.data.key.prefix) && keyRole === "caller", "the secret starts with the listed prefix");
const rotatedKey = await admin.POST("/api/v1/admin/keys/{keyId}/rotate", { params: { path: { keyId: createdKey.data.key.id }, query: { overlap_seconds: 0 } } });
check(rotatedKey.data?.previous.state === "expired" || rotatedKey.data?.previous.state === "rotated", "the rotated key is no longer active");
const keyStates: Schemas["ApiKeyState"][] = (await admin.GET("/api/v1/admin/keys")).data?.keys.map(k => k.state) ?? [];
check(keyStates.includes("active"), "the successor is listed active");

console.log(`typed client: job ${jobId} ${describe(status.status)}, ${tokens} tokens, cost ${cost}, ${steps.length} steps`);

// What must not compile: these lines are type errors, and tsc fails if any of them is not.
export function wrongUses(job: Schemas["JobStatusResponse"]) {
  // @ts-expect-error status is a union of the job states, not any string
  const state: JobStatus = "done";
  // @ts-expect-error priority is an integer, not a string
  void client.POST("/api/v1/workflow", { body: { workflow_name: "hello_transform", priority: "5" } });
  // @ts-expect-error status_filter is an enum
  void client.GET("/api/v1/jobs", { params: { query: { status_filter: "everything" } } });
  // @ts-expect-error total_tokens is a number
  const tokens: string = job.result!.cost_data.total_tokens;
  // @ts-expect-error category is the taxonomy, not any string
  const category: ErrorCategory = "OOPS";
  // @ts-expect-error a key's role is caller or admin
  void admin.POST("/api/v1/admin/keys", { body: { name: "x", role: "root" } });
  return [state, tokens, category];
}
