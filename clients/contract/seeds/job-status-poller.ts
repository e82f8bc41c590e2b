// JobStatusPoller.tsx (document 002, phase 7): its poll() and estimateProgress(), without React and the DOM.
import type { LLMJobProgress, LLMJobStatus } from "./types.ts";

export interface PollerCallbacks {
  fetchStatus: (jobId: string) => Promise<Response>; // the component's fetch(`/api/llm-service/jobs/${jobId}`)
  setProgress: (progress: LLMJobProgress) => void;
  setIsPolling: (polling: boolean) => void;
  onComplete?: (reportId: string) => void;
  onError?: (error: string) => void;
}

export function createPoll(reportId: string, jobId: string, { fetchStatus, setProgress, setIsPolling, onComplete, onError }: PollerCallbacks) {
  return async () => {
    try {
      const response = await fetchStatus(jobId);
      const status: LLMJobStatus = await response.json();

      if (status.status === 'completed') {
        setIsPolling(false);
        onComplete?.(reportId);
        return;
      }

      if (status.status === 'failed') {
        setIsPolling(false);
        onError?.(status.error_message || 'Job failed');
        return;
      }

      // Update progress
      setProgress(estimateProgress(status));

    } catch (error) {
      console.error('[JobPoller] Error fetching status:', error);
      // Don't stop polling on network errors, retry next interval
    }
  };
}

export function estimateProgress(status: LLMJobStatus): LLMJobProgress {
  const stepMap: Record<string, { display: string; percentage: number }> = {
    'format_bundles': { display: 'Formatting Bundles', percentage: 5 },
    'join_bundles': { display: 'Joining Bundles', percentage: 10 },
    'build_scenario_list': { display: 'Building Scenario List', percentage: 15 },
    'build_user_message': { display: 'Building User Message', percentage: 20 },
    'generate_mission_plan': { display: 'Generating Mission Plan', percentage: 90 },
    'parse_sections': { display: 'Parsing Sections', percentage: 95 },
  };

  const currentStepId = status.current_step_id;
  const stepInfo = stepMap[currentStepId] || { display: 'Processing...', percentage: 0 };

  return {
    currentStep: stepInfo.display,
    percentage: stepInfo.percentage,
  };
}
