// app/api/trips/route.ts: the main app's submit route. The Idempotency-Key is derived from the request's own id,
// so a double-clicked button or a retried request never starts (or bills) the workflow twice.
import { ValidationError } from "@llmworkflow/client";
import { llm } from "../../../lib/llm.ts";

export async function POST(request: Request): Promise<Response> {
  const { requestId, traveler, destination } = await request.json() as { requestId: string; traveler: string; destination: string };
  try {
    const job = await llm.submit(
      {
        workflow_name: "trip_briefing",
        input_data: { traveler, destination, start_date: "2026-05-12", days: 2, interests: ["food"] },
        user_id: "sample-user",
        action: "plan a trip",
      },
      { idempotencyKey: `trip-${requestId}` },
    );
    return Response.json({ jobId: job.job_id, replayed: job.replayed }, { status: 202 });
  } catch (error) {
    // The service's 400 names each wrong field in JSON terms: hand them to the form.
    if (error instanceof ValidationError) return Response.json({ errors: error.errors }, { status: 400 });
    throw error;
  }
}
