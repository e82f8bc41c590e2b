import type { components } from "./generated/openapi.js";

type JobError = components["schemas"]["JobError"];

/** Fields every live event has. `id` is the SSE id: pass it as `lastEventId` to resume after it. */
interface EventBase { id: string; job_id: string; timestamp: string }

// The SSE payloads are not OpenAPI schemas (the stream is text/event-stream); these mirror
// LlmWorkflow.Contracts/LiveJobEvent.cs and docs/API_GUIDE.md, "Live progress".
export type LiveEvent =
  | EventBase & { type: "run_started"; workflow_name: string; total_steps: number }
  | EventBase & { type: "step_started"; step_id: string; step_key: string; display_name: string; step_type: string; index: number; total: number; percent: number; parent_step_id: string | null }
  | EventBase & { type: "step_completed"; step_id: string; step_key: string; display_name: string; status: string; duration_ms: number; attempts: number; input_tokens: number | null; output_tokens: number | null; cost_usd: number | null; model: string | null; percent: number; parent_step_id: string | null; error: JobError | null; notes?: string }
  | EventBase & { type: "llm_delta"; step_id: string; text: string }
  | EventBase & { type: "llm_call_completed"; step_id: string; provider: string; model: string; input_tokens: number; output_tokens: number; cost_usd: number | null; cache_hit: boolean }
  | EventBase & { type: "run_waiting"; step_id: string; kind: string; until: string; event: string | null }
  | EventBase & { type: "run_completed"; cost_usd: number | null; total_tokens: number; status?: string; from_database?: boolean }
  | EventBase & { type: "run_failed"; error: JobError | null; cancelled: boolean; status?: string; cost_usd?: number; total_tokens?: number; from_database?: boolean }
  | EventBase & { type: "cancelled"; error?: JobError | null; status?: string; cost_usd?: number; total_tokens?: number; from_database?: boolean };

export type LiveEventType = LiveEvent["type"];

/** The events after which a job's stream ends. */
export const terminalEventTypes: ReadonlySet<string> = new Set(["run_completed", "run_failed", "cancelled"]);
