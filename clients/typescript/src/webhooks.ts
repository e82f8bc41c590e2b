import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { components } from "./generated/openapi.js";

type JobWait = components["schemas"]["JobWait"];
type JobError = components["schemas"]["JobError"];

export { WebhookVerificationError };

interface WebhookBase { job_id: string; status: string; workflow_name: string; user_id: string | null; timestamp: string }

// Webhook bodies are not OpenAPI schemas (the service calls out); these mirror
// LlmWorkflow.Contracts/WebhookBodyRecords.cs and docs/WEBHOOKS.md.
export type WebhookBody =
  | WebhookBase & {
      event: "workflow.completed" | "workflow.failed" | "workflow.cancelled";
      result: { output: unknown; cost_data?: unknown } | null;
      metadata: { duration_ms: number | null; total_tokens: number; cost_usd: number; username: string | null; action: string | null; attempt: number; [key: string]: unknown };
      error: JobError | null;
    }
  | WebhookBase & {
      event: "workflow.step_completed";
      step: { step_id: string; display_name: string; type: string; status: string; duration_ms: number; percent: number };
      metadata: { username: string | null; action: string | null; attempt: number };
    }
  | WebhookBase & {
      event: "workflow.waiting";
      waiting_for: JobWait;
      metadata: { username: string | null; action: string | null; attempt: number };
    };

/**
 * The service's key for a secret: a `whsec_<base64>` secret is its decoded bytes (the Standard Webhooks form),
 * any other secret its UTF-8 bytes, as docs/WEBHOOKS.md says the service signs.
 */
function webhookFor(secret: string): Webhook {
  return secret.startsWith("whsec_") ? new Webhook(secret) : new Webhook(new TextEncoder().encode(secret), { format: "raw" });
}

/**
 * Verifies a webhook delivery (Standard Webhooks `webhook-id`, `webhook-timestamp`, `webhook-signature` over the raw
 * body, timestamp within 5 minutes) and returns its parsed body. Throws {@link WebhookVerificationError} when no
 * secret matches. Pass several secrets while rotating. For a Next.js route handler:
 *
 *     export async function POST(request: Request) {
 *       const body = await verifyWebhook(request, process.env.LLM_WEBHOOK_SECRET!);
 *       ...
 *     }
 */
export async function verifyWebhook(request: Request, secret: string | readonly string[]): Promise<WebhookBody> {
  const payload = await request.text();
  return verifyWebhookPayload(payload, request.headers, secret);
}

/** {@link verifyWebhook} for a raw body already read (e.g. Express with `express.raw()`). */
export function verifyWebhookPayload(payload: string, headers: Headers | Record<string, string>, secret: string | readonly string[]): WebhookBody {
  const get = (name: string) => (headers instanceof Headers ? headers.get(name) : headers[name]) ?? "";
  const signed = { "webhook-id": get("webhook-id"), "webhook-timestamp": get("webhook-timestamp"), "webhook-signature": get("webhook-signature") };
  const secrets = typeof secret === "string" ? [secret] : secret;
  if (secrets.length === 0) throw new Error("verifyWebhook needs at least one secret");
  let failure: unknown;
  for (const candidate of secrets) {
    try {
      return webhookFor(candidate).verify(payload, signed) as WebhookBody;
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}
