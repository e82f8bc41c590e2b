// The shapes documents 000 and 001 print, as a client written from them reads them: document 000's submit answer
// (section 8, with celery_task_id) and status (result.contacts beside result.cost_data), document 001's
// GET /api/v1/jobs/{job_id} (top-level output and metadata), its /health (services.celery.workers, database.type),
// its webhook payloads (metadata.total_cost_usd; error.details.service and .suggestions) and its ErrorContext type.
// Written from the documents only; the functions talk to the service as those documents' curl examples do.

const LLM_SERVICE_URL = process.env.LLM_SERVICE_URL!;
const headers = { 'Content-Type': 'application/json', 'X-API-Key': process.env.LLM_SERVICE_API_SECRET! };

/** Document 000, POST /api/v1/workflow, "Response 202 Accepted". */
export interface SubmitResponse000 {
  job_id: string;
  celery_task_id: string;
  status: string;
  estimated_wait_seconds: number;
  status_url: string;
}

/** Document 000, GET /api/v1/status/{job_id}, "Response 200 OK": the workflow's fields directly under result. */
export interface StatusResponse000 {
  job_id: string;
  status: 'pending' | 'queued' | 'processing' | 'completed' | 'failed' | 'cancelled';
  workflow_name: string;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  duration_ms: number | null;
  result: {
    [field: string]: unknown;
    cost_data: { provider: string; model: string; input_tokens: number; output_tokens: number; total_tokens: number; cost_usd: number };
  } | null;
  error_message: string | null;
}

/** Document 001, GET /api/v1/jobs/{job_id}, "Response (200 OK)". */
export interface Job001 {
  job_id: string;
  status: string;
  workflow_name: string;
  output: Record<string, unknown> | null;
  metadata: { duration_ms: number; total_tokens: number; total_cost_usd: number };
  created_at: string;
  completed_at: string | null;
}

/** Document 001, GET /health, "Expected Response". */
export interface Health001 {
  status: string;
  version: string;
  services: {
    database: { status: string; type: string };
    redis: { status: string };
    celery: { status: string; workers: number };
  };
  timestamp: string;
}

/** Document 001, "Error Context Structure", as printed. */
type ErrorCategory = 'USER_ERROR' | 'CONFIG_ERROR' | 'SYSTEM_ERROR' | 'EXTERNAL_ERROR';
export interface ErrorContext {
  type: string;              // Error type (e.g., "TimeoutError")
  category: ErrorCategory;   // Error classification
  message: string;           // Human-readable message
  retryable: boolean;        // Whether retry is recommended
  retry_after?: number;      // Seconds to wait before retry
  step_id?: string;          // Workflow step that failed
  details?: {
    service?: string;        // External service name
    operation?: string;      // API operation
    inputs?: object;         // Sanitized input parameters
    config?: object;         // Sanitized configuration
    suggestions?: string[];  // Actionable debugging suggestions
  }
}

/** Document 001, "Webhook Payloads": success and failure. */
export interface WebhookSuccess001 {
  event: 'workflow.completed';
  job_id: string;
  status: 'completed';
  workflow_name: string;
  metadata: { total_cost_usd: number; total_tokens: number; duration_ms: number };
}
export interface WebhookFailure001 {
  event: 'workflow.failed';
  job_id: string;
  status: 'failed';
  workflow_name: string;
  error: ErrorContext;
}

export async function submit000(workflow_name: string, input_data: Record<string, unknown>): Promise<SubmitResponse000> {
  const response = await fetch(`${LLM_SERVICE_URL}/api/v1/workflow`, { method: 'POST', headers, body: JSON.stringify({ workflow_name, input_data }) });
  if (response.status !== 202) throw new Error(`submit: ${response.status} ${await response.text()}`);
  return response.json() as Promise<SubmitResponse000>;
}

export async function status000(jobId: string): Promise<StatusResponse000> {
  return (await fetch(`${LLM_SERVICE_URL}/api/v1/status/${jobId}`, { headers })).json() as Promise<StatusResponse000>;
}

export async function job001(jobId: string): Promise<Job001> {
  return (await fetch(`${LLM_SERVICE_URL}/api/v1/jobs/${jobId}`, { headers })).json() as Promise<Job001>;
}

export async function health001(path: '/health' | '/api/v1/health'): Promise<Health001> {
  return (await fetch(`${LLM_SERVICE_URL}${path}`)).json() as Promise<Health001>;
}
