// src/app/api/llm-service/jobs/route.ts and .../[jobId]/cancel/route.ts (document 002, phase 4), as printed;
// NextResponse.json is the web platform's Response.json.
const LLM_SERVICE_URL = process.env.LLM_SERVICE_URL!;
const NextResponse = { json: (body: unknown) => Response.json(body) };

// POST /api/llm-service/jobs
export async function POST(request: Request) {
  const { workflow_name, input_data } = await request.json();

  // Forward to LLM service with API secret
  const response = await fetch(`${LLM_SERVICE_URL}/api/v1/workflow`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-API-Secret': process.env.LLM_SERVICE_API_SECRET!,
    },
    body: JSON.stringify({ workflow_name, input_data }),
  });

  return NextResponse.json(await response.json());
}

// POST /api/llm-service/jobs/[jobId]/cancel
export async function CANCEL(
  request: Request,
  { params }: { params: Promise<{ jobId: string }> }
) {
  const { jobId } = await params;

  // Call LLM service bulk delete endpoint
  const response = await fetch(`${LLM_SERVICE_URL}/api/v1/jobs/bulk`, {
    method: 'DELETE',
    headers: {
      'Content-Type': 'application/json',
      'X-API-Secret': process.env.LLM_SERVICE_API_SECRET!,
    },
    body: JSON.stringify({ job_ids: [jobId] }),
  });

  return NextResponse.json(await response.json());
}
