// app/api/webhooks/llm-callback/route.ts: where the service delivers a job's result. The signature is checked on
// the raw body before anything is trusted; a forged or replayed delivery gets 401 and is retried by nobody.
import { verifyWebhook, WebhookVerificationError, type WebhookBody } from "@llmworkflow/client";

/** What this sample's "database" received, for the runner to look at. */
export const received: WebhookBody[] = [];

export async function POST(request: Request): Promise<Response> {
  let body: WebhookBody;
  try {
    body = await verifyWebhook(request, process.env.LLM_WEBHOOK_SECRET!);
  } catch (error) {
    if (error instanceof WebhookVerificationError) return Response.json({ error: "bad signature" }, { status: 401 });
    throw error;
  }
  received.push(body);
  if (body.event === "workflow.completed") {
    // e.g. save body.result.output to the trip record and notify the user
  }
  return Response.json({ ok: true });
}
