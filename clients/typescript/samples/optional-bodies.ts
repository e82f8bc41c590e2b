// Type-checked with the other samples (tsc --strict, never run): the README's calls whose request members are all
// optional. The OpenAPI document listed them as required-nullable, so `body: {}` failed to compile.
import type { LlmWorkflowClient } from "@llmworkflow/client";

export async function rerunRescheduleAndTrigger(client: LlmWorkflowClient, jobId: string, scheduledJobId: string, scheduleId: string) {
  await client.api.POST("/api/v1/jobs/{jobId}/retry", { params: { path: { jobId } }, body: {} });
  await client.api.POST("/api/v1/jobs/{jobId}/retry", { params: { path: { jobId } }, body: { from_step: "draft" } });
  await client.api.PATCH("/api/v1/jobs/{jobId}", { params: { path: { jobId: scheduledJobId } }, body: { delay_seconds: 60 } });
  await client.api.POST("/api/v1/schedules/{scheduleId}/trigger", { params: { path: { scheduleId } } });
}
