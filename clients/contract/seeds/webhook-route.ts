// src/app/api/webhooks/llm-callback/route.ts and src/lib/ai/webhook-handlers.ts (document 002, phase 5), with the
// signature check document 001 describes (X-Webhook-Signature: sha256=<hex HMAC of the raw body>). The Drizzle
// table is an in-memory map; revalidatePath is gone.
import { createHmac, timingSafeEqual } from "node:crypto";

export interface MissionReport {
  id: string;
  userId: string;
  jobId: string;
  status: 'generating' | 'completed' | 'failed' | 'cancelled';
  reportData: any;
  errorMessage?: string;
}

/** The mission_reports table. */
export const missionReports = new Map<string, MissionReport>();
/** Every payload the route accepted, in arrival order. */
export const received: any[] = [];

function parseRiskAssessment(text: string) { return text; }
function parseBundleRecommendations(text: string) { return text; }
function parseSkills(text: string) { return text; }
function parseSimulation(text: string) { return text; }
function parseNextSteps(text: string) { return text; }

export async function POST(request: Request): Promise<Response> {
  const rawBody = await request.text();
  const signature = request.headers.get('x-webhook-signature') ?? '';
  const expected = 'sha256=' + createHmac('sha256', process.env.LLM_WEBHOOK_SECRET!).update(rawBody).digest('hex');
  if (signature.length !== expected.length || !timingSafeEqual(Buffer.from(signature), Buffer.from(expected))) {
    return Response.json({ error: 'Invalid signature' }, { status: 401 });
  }

  const payload = JSON.parse(rawBody);
  received.push(payload);
  const userId: string | undefined = payload.user_id;

  if (payload.event === 'workflow.completed' && userId) {
    // NEW: Handle mission_generation workflow
    if (payload.workflow_name === 'mission_generation') {
      handleMissionGenerationComplete(
        userId,
        payload.job_id,
        payload.result
      ).catch(err => {
        console.error('[LLM Webhook] Mission generation processing failed:', err);
      });
    }
  }

  return Response.json({ received: true });
}

export async function handleMissionGenerationComplete(
  userId: string,
  jobId: string,
  result: any
): Promise<void> {
  try {
    // 1. Find mission_report by job_id
    const report = [...missionReports.values()].find(r => r.jobId === jobId);

    if (!report) {
      console.warn(`[Webhook] No mission report found for job ${jobId}`);
      return;
    }

    // 2. Parse workflow output
    const missionPlan = result.output.mission_plan;
    const parsedSections = result.output.parsed_sections;
    const llmUsage = result.output.llm_usage;

    // 3. Build ReportDataV2 structure
    const reportData = {
      version: '2.0',
      generatedWith: 'llm_service',
      content: missionPlan,
      sections: {
        executiveSummary: parsedSections.executive_summary,
        riskAssessment: parseRiskAssessment(parsedSections.risk_assessment),
        bundles: parseBundleRecommendations(parsedSections.recommended_bundles),
        skills: parseSkills(parsedSections.survival_skills),
        simulation: parseSimulation(parsedSections.day_by_day),
        nextSteps: parseNextSteps(parsedSections.next_steps),
      },
      formData: report.reportData.formData,
      metadata: {
        model: llmUsage.model,
        streamDurationMs: llmUsage.duration_ms,
        generatedAt: new Date().toISOString(),
        tokensUsed: llmUsage.total_tokens,
        inputTokens: llmUsage.input_tokens,
        outputTokens: llmUsage.output_tokens,
      },
    };

    // 4. Update mission_report status and data
    missionReports.set(report.id, { ...report, status: 'completed', reportData });

    console.log(`[Webhook] Mission generation complete for report ${report.id}`);
  } catch (error) {
    console.error('[Webhook] Error handling mission_generation completion:', error);

    // Mark report as failed
    for (const report of missionReports.values()) {
      if (report.jobId === jobId) {
        missionReports.set(report.id, { ...report, status: 'failed', errorMessage: error instanceof Error ? error.message : 'Unknown error' });
      }
    }
  }
}
