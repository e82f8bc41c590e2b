// src/lib/llm-service-client.ts (document 002, phase 3): the documented signatures, talking to the service the way
// the phase 4 proxy routes do (X-API-Secret, /api/v1/workflow, DELETE /api/v1/jobs/bulk).
import type { LLMJobProgress, LLMJobResult, LLMJobStatus } from "./types.ts";

const LLM_SERVICE_URL = process.env.LLM_SERVICE_URL!;

export async function submitWorkflow(
  workflowName: string,
  inputData: Record<string, unknown>,
  userId?: string, // document 003: "Workflow submission accepts user_id"
): Promise<{ jobId: string }> {
  const response = await fetch(`${LLM_SERVICE_URL}/api/v1/workflow`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-API-Secret': process.env.LLM_SERVICE_API_SECRET!,
    },
    body: JSON.stringify({ workflow_name: workflowName, input_data: inputData, user_id: userId }),
  });
  if (!response.ok) throw new Error(`LLM service refused the job: ${response.status} ${await response.text()}`);
  const { job_id } = await response.json();
  return { jobId: job_id };
}

export async function getJobStatus(
  jobId: string
): Promise<LLMJobStatus> {
  const response = await fetch(`${LLM_SERVICE_URL}/api/v1/jobs/${jobId}`, {
    headers: { 'X-API-Secret': process.env.LLM_SERVICE_API_SECRET! },
  });
  if (!response.ok) throw new Error(`LLM service status: ${response.status}`);
  return response.json();
}

export async function cancelJob(
  jobId: string
): Promise<{ deleted: boolean }> {
  const response = await fetch(`${LLM_SERVICE_URL}/api/v1/jobs/bulk`, {
    method: 'DELETE',
    headers: {
      'Content-Type': 'application/json',
      'X-API-Secret': process.env.LLM_SERVICE_API_SECRET!,
    },
    body: JSON.stringify({ job_ids: [jobId] }),
  });
  const body = await response.json();
  return { deleted: Array.isArray(body.deleted_job_ids) && body.deleted_job_ids.includes(jobId) };
}

export async function pollJobUntilComplete(
  jobId: string,
  onProgress?: (progress: LLMJobProgress) => void,
  intervalMs = 2000,
): Promise<LLMJobResult> {
  for (;;) {
    const status = await getJobStatus(jobId);
    if (status.status === 'completed' || status.status === 'failed' || status.status === 'cancelled') {
      return { status: status.status, result: status.result };
    }
    onProgress?.({ currentStep: status.current_step_name ?? 'Processing...', percentage: 0 });
    await new Promise(resolve => setTimeout(resolve, intervalMs));
  }
}
