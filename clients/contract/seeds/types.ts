// src/types/llm-service.ts — the fields the documents' code reads (document 002's poller, 003's queue tab).
export interface LLMJobStatus {
  job_id: string;
  status: "pending" | "queued" | "processing" | "completed" | "failed" | "cancelled";
  current_step_id: string;
  current_step_name?: string | null;
  error_message?: string | null;
  result?: { output: any; cost_data?: unknown } | null;
}

export interface LLMJobProgress {
  currentStep: string;
  percentage: number;
}

export interface LLMJobResult {
  status: string;
  result?: { output: any } | null;
}

export interface LLMJob {
  job_id: string;
  workflow_name: string;
  status: string;
  username?: string | null;
  action?: string | null;
}

export interface LLMJobsResponse {
  jobs: LLMJob[];
  total: number;
}
