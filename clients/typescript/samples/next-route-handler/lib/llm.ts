// The main app's one client instance (server side only: it holds the API key).
import { LlmWorkflowClient } from "@llmworkflow/client";

export const llm = new LlmWorkflowClient({
  baseUrl: process.env.LLM_SERVICE_URL ?? "http://localhost:5080",
  apiKey: process.env.LLM_SERVICE_API_SECRET!,
});
