// src/app/(protected)/admin/debug/actions.ts (document 003): fetchLLMJobs(statusFilter, limitResults) for the
// LLM Queue tab, whose status filter offers all, running, completed, failed and whose limit defaults to 25.
import type { LLMJobsResponse } from "./types.ts";

export type JobStatusFilter = 'all' | 'running' | 'completed' | 'failed';

export async function fetchLLMJobs(statusFilter: JobStatusFilter, limitResults: string = '25'): Promise<LLMJobsResponse> {
  const params = new URLSearchParams({ status_filter: statusFilter, limit_results: limitResults });
  const response = await fetch(`${process.env.LLM_SERVICE_URL}/api/v1/jobs?${params}`, {
    headers: { 'X-API-Secret': process.env.LLM_SERVICE_API_SECRET! },
  });
  if (!response.ok) throw new Error(`Failed to fetch LLM jobs: ${response.status} ${await response.text()}`);
  return response.json();
}
