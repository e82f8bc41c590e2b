import createClient, { type Client } from "openapi-fetch";
import { EventSourceParserStream } from "eventsource-parser/stream";
import type { components, paths } from "./generated/openapi.js";
import { errorFromResponse, JobFailedError } from "./errors.js";
import { terminalEventTypes, type LiveEvent } from "./events.js";

export type Schemas = components["schemas"];
export type SubmitRequest = Schemas["SubmitWorkflowRequest"];
export type JobAccepted = Schemas["JobAcceptedResponse"];
export type JobStatusResponse = Schemas["JobStatusResponse"];
export type JobStatus = Schemas["JobStatus"];
export type SignalResponse = Schemas["SignalResponse"];
export type CreateScheduleRequest = Schemas["CreateScheduleRequest"];
export type ScheduleResponse = Schemas["ScheduleResponse"];
export type ScheduleListResponse = Schemas["ScheduleListResponse"];
export type StartProjectRequest = Schemas["StartProjectRequest"];
export type ProjectDocument = Schemas["ProjectDocument"];

/** When a scheduled job runs instead: at a future time (ISO 8601 or a Date), or after 1 s or more (1 runs it now). */
export type RescheduleTo = { runAt: string | Date } | { delaySeconds: number };

/** The statuses a job does not leave. */
export const terminalStatuses: ReadonlySet<JobStatus> = new Set<JobStatus>(["completed", "failed", "cancelled"]);

export interface LlmWorkflowClientOptions {
  /** The service's base URL, e.g. http://localhost:5080 (no /api/v1). */
  baseUrl: string;
  /** A caller key (sent as X-API-Key). Keep it on the server: never ship it to browsers. */
  apiKey: string;
  /** Another fetch (tests, proxies, Next.js' cache options). */
  fetch?: typeof fetch;
}

export interface SubmitOptions {
  /** Makes retries of this submission safe; derive it from what makes the work unique. A random UUID when omitted. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface Submitted extends JobAccepted {
  /** The key sent (the one given, or the generated one): send it again to retry the same submission. */
  idempotencyKey: string;
  /** True when the answer carried `Idempotent-Replayed: true`: the key was seen before and this is the original job (its 202 again). */
  replayed: boolean;
}

export interface WaitOptions {
  /** Give up after this long (default 10 minutes); throws an Error naming the last status. */
  timeoutMs?: number;
  /** First pause between polls (default 500 ms), multiplied by `factor` (1.5) up to `maxDelayMs` (5 s). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  /** Called with every status read, e.g. to show progress_percent. */
  onStatus?: (status: JobStatusResponse) => void;
  /** Throw {@link JobFailedError} when the job ends failed or cancelled (default true); else return the status. */
  throwOnFailure?: boolean;
  signal?: AbortSignal;
}

export interface EventsOptions {
  /** Resume after this event id (an earlier event's `id`): nothing is lost or repeated. */
  lastEventId?: string;
  /** Reconnects allowed after a dropped connection (default 5); each resumes with Last-Event-ID. */
  maxReconnects?: number;
  signal?: AbortSignal;
}

const delay = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal?.aborted) return reject(signal.reason);
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
});

/**
 * The LlmWorkflow service. `api` is the generated client (openapi-fetch) for every route of the OpenAPI document;
 * the methods here add what a main app keeps writing by hand. Every non-success answer, through `api` or the
 * helpers, throws a typed {@link LlmWorkflowError} subclass (ValidationError, NotFoundError, RateLimitedError, ...).
 */
export class LlmWorkflowClient {
  /** Every route, typed from the OpenAPI document: `client.api.GET("/api/v1/workflows")`. */
  readonly api: Client<paths>;
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly fetchImpl: typeof fetch;

  constructor(options: LlmWorkflowClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.api = createClient<paths>({ baseUrl: this.baseUrl, headers: { "X-API-Key": this.apiKey }, fetch: this.fetchImpl });
    this.api.use({
      async onResponse({ response }) {
        if (!response.ok) throw await errorFromResponse(response);
        return undefined;
      },
    });
  }

  /** Submits a workflow run with an Idempotency-Key (generated when not given), so a retried call never runs it twice. */
  async submit(request: SubmitRequest, options: SubmitOptions = {}): Promise<Submitted> {
    const idempotencyKey = options.idempotencyKey ?? crypto.randomUUID();
    const { data, response } = await this.api.POST("/api/v1/workflow", {
      body: request,
      params: { header: { "Idempotency-Key": idempotencyKey } },
      signal: options.signal,
    });
    return { ...data!, idempotencyKey, replayed: response.headers.get("Idempotent-Replayed") === "true" };
  }

  /** The job's full state (`GET /api/v1/status/{job_id}`). */
  async getStatus(jobId: string, signal?: AbortSignal): Promise<JobStatusResponse> {
    const { data } = await this.api.GET("/api/v1/status/{jobId}", { params: { path: { jobId } }, signal });
    return data!;
  }

  /**
   * Polls the job with backoff until it is completed, failed or cancelled and returns its last status. A failed or
   * cancelled job throws {@link JobFailedError} (with the error's category) unless `throwOnFailure` is false.
   */
  async waitForCompletion(jobId: string, options: WaitOptions = {}): Promise<JobStatusResponse> {
    const { timeoutMs = 600_000, initialDelayMs = 500, maxDelayMs = 5_000, factor = 1.5, throwOnFailure = true } = options;
    const deadline = Date.now() + timeoutMs;
    for (let pause = initialDelayMs; ; pause = Math.min(pause * factor, maxDelayMs)) {
      const status = await this.getStatus(jobId, options.signal);
      options.onStatus?.(status);
      if (terminalStatuses.has(status.status)) {
        if (throwOnFailure && status.status !== "completed") {
          throw new JobFailedError(jobId, status.status as "failed" | "cancelled", status.error ?? null);
        }
        return status;
      }
      if (Date.now() + pause > deadline) throw new Error(`job ${jobId} still ${status.status} after ${timeoutMs} ms`);
      await delay(pause, options.signal);
    }
  }

  /**
   * Sends the signal `event` to a job (`POST /api/v1/jobs/{jobId}/signals/{event}`): a `wait_for_event` step waiting
   * for it takes it; one sent earlier waits in the job's inbox. Pass an idempotency key so that a retried call is not
   * a second signal.
   */
  async signal(jobId: string, event: string, payload: unknown = {}, options: SubmitOptions = {}): Promise<SignalResponse> {
    const { data } = await this.api.POST("/api/v1/jobs/{jobId}/signals/{event}", {
      params: { path: { jobId, event }, header: options.idempotencyKey ? { "Idempotency-Key": options.idempotencyKey } : {} },
      body: payload,
      signal: options.signal,
    });
    return data!;
  }

  /**
   * Moves a scheduled (not yet started) job (`PATCH /api/v1/jobs/{jobId}`): `{ runAt }` (in the future) or
   * `{ delaySeconds }` (1 to a year; `{ delaySeconds: 1 }` runs it now, as the dashboard's Run now does).
   */
  async reschedule(jobId: string, to: RescheduleTo, signal?: AbortSignal): Promise<JobStatusResponse> {
    const body = "runAt" in to
      ? { run_at: to.runAt instanceof Date ? to.runAt.toISOString() : to.runAt }
      : { delay_seconds: to.delaySeconds };
    const { data } = await this.api.PATCH("/api/v1/jobs/{jobId}", { params: { path: { jobId } }, body, signal });
    return data!;
  }

  /** Creates a schedule: the workflow runs on every tick of `cron` in `timezone` (`POST /api/v1/schedules`). */
  async createSchedule(request: CreateScheduleRequest, options: SubmitOptions = {}): Promise<ScheduleResponse> {
    const { data } = await this.api.POST("/api/v1/schedules", {
      body: request,
      params: { header: options.idempotencyKey ? { "Idempotency-Key": options.idempotencyKey } : {} },
      signal: options.signal,
    });
    return data!;
  }

  /** The caller's schedules, oldest first, with each one's next ticks (`GET /api/v1/schedules`). */
  async listSchedules(page: { limit?: number; offset?: number } = {}, signal?: AbortSignal): Promise<ScheduleListResponse> {
    const { data } = await this.api.GET("/api/v1/schedules", { params: { query: page }, signal });
    return data!;
  }

  /** Runs a tick of the schedule now (`POST /api/v1/schedules/{scheduleId}/trigger`). */
  async triggerSchedule(scheduleId: string, signal?: AbortSignal): Promise<ScheduleResponse> {
    const { data } = await this.api.POST("/api/v1/schedules/{scheduleId}/trigger", { params: { path: { scheduleId } }, signal });
    return data!;
  }

  /** Pauses a schedule (its ticks are recorded skipped, reason paused) or, with `paused: false`, resumes it. */
  async pauseSchedule(scheduleId: string, paused = true, signal?: AbortSignal): Promise<ScheduleResponse> {
    const { data } = await this.api.PATCH("/api/v1/schedules/{scheduleId}", { params: { path: { scheduleId } }, body: { paused }, signal });
    return data!;
  }

  /** Document 004's `POST /start` (`/generator/start`): starts generating a project; `replayed` when it already ran. */
  async startProject(request: StartProjectRequest, signal?: AbortSignal): Promise<{ run_id: string; replayed: boolean }> {
    const { data, response } = await this.api.POST("/generator/start", { body: request, signal });
    return { run_id: data!.run_id, replayed: response.status === 200 };
  }

  /** Polls document 004's `GET /status/{project_id}` with backoff until the project is `complete` or `error`. */
  async waitForProject(projectId: string, options: Omit<WaitOptions, "onStatus" | "throwOnFailure"> = {}): Promise<ProjectDocument> {
    const { timeoutMs = 600_000, initialDelayMs = 500, maxDelayMs = 5_000, factor = 1.5 } = options;
    const deadline = Date.now() + timeoutMs;
    for (let pause = initialDelayMs; ; pause = Math.min(pause * factor, maxDelayMs)) {
      const { data } = await this.api.GET("/generator/status/{projectId}", { params: { path: { projectId } }, signal: options.signal });
      if (data!.status === "complete" || data!.status === "error") return data!;
      if (Date.now() + pause > deadline) throw new Error(`project ${projectId} still ${data!.status} after ${timeoutMs} ms`);
      await delay(pause, options.signal);
    }
  }

  /**
   * The job's live events, ending after the terminal one (run_completed, run_failed, cancelled). A dropped
   * connection is resumed with Last-Event-ID, so no event is lost or repeated; to resume later (another request,
   * another process), pass the last event's `id` as `lastEventId`. A finished job's stream resumed at its end yields
   * nothing (the service answers 204).
   */
  async *events(jobId: string, options: EventsOptions = {}): AsyncGenerator<LiveEvent, void, undefined> {
    let lastEventId = options.lastEventId;
    const maxReconnects = options.maxReconnects ?? 5;
    for (let reconnects = 0; ; reconnects++) {
      const response = await this.fetchImpl(`${this.baseUrl}/api/v1/jobs/${encodeURIComponent(jobId)}/events`, {
        headers: { "X-API-Key": this.apiKey, Accept: "text/event-stream", ...(lastEventId ? { "Last-Event-ID": lastEventId } : {}) },
        signal: options.signal,
      });
      if (response.status === 204) return;
      if (!response.ok) throw await errorFromResponse(response);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
      try {
        for (;;) {
          const { value: message, done } = await reader.read();
          if (done) break;
          if (message.id) lastEventId = message.id;
          const event = { ...JSON.parse(message.data), id: message.id ?? "" } as LiveEvent;
          yield event;
          if (terminalEventTypes.has(event.type)) return;
        }
      } catch (error) {
        if (options.signal?.aborted || reconnects >= maxReconnects) throw error;
      } finally {
        await reader.cancel().catch(() => undefined);
      }
      if (reconnects >= maxReconnects) throw new Error(`the event stream of job ${jobId} closed ${reconnects + 1} times before its terminal event`);
      await delay(Math.min(250 * 2 ** reconnects, 5_000), options.signal);
    }
  }
}
