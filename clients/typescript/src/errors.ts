import type { components } from "./generated/openapi.js";

export type JobError = components["schemas"]["JobError"];
export type ErrorCategory = components["schemas"]["ErrorCategory"];

/** Which kind of HTTP failure an {@link LlmWorkflowError} is, one per documented problem status. */
export type ProblemKind =
  | "validation"          // 400: the request names a field that is wrong (see `errors`)
  | "authentication"      // 401: no API key, or an unknown one
  | "permission"          // 403: an admin route with a caller key
  | "not_found"           // 404: no such job (or another tenant's), route or workflow
  | "conflict"            // 409: the action does not fit the job's state
  | "gone"                // 410: the job was deleted
  | "too_large"           // 413: the body exceeds the service's limit
  | "idempotency_mismatch"// 422: the Idempotency-Key was used before with another body
  | "rate_limited"        // 429: see retryAfterSeconds
  | "unavailable"         // 503: PostgreSQL or Redis unreachable; see retryAfterSeconds
  | "server"              // other 5xx
  | "unexpected";         // anything else

/** A problem+json answer (RFC 9457) of the service, as the errors below carry it. */
export interface Problem {
  type?: string | null;
  title?: string | null;
  detail?: string | null;
  status?: number | string | null;
  errors?: Record<string, string[]>;
  [key: string]: unknown;
}

/** The service answered with an error status. Subclasses name the kind; `problem` is the body as sent. */
export class LlmWorkflowError extends Error {
  constructor(
    readonly kind: ProblemKind,
    readonly httpStatus: number,
    readonly problem: Problem | null,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(problem?.detail ?? problem?.title ?? `LlmWorkflow answered ${httpStatus}`);
    this.name = new.target.name;
  }
}

export class ValidationError extends LlmWorkflowError {
  /** Messages by JSON field name, e.g. `{ "input_data.days": ["must be at most 14"] }`. */
  get errors(): Record<string, string[]> { return this.problem?.errors ?? {}; }
}
export class AuthenticationError extends LlmWorkflowError {}
export class PermissionError extends LlmWorkflowError {}
export class NotFoundError extends LlmWorkflowError {}
export class ConflictError extends LlmWorkflowError {}
export class GoneError extends LlmWorkflowError {}
export class IdempotencyMismatchError extends LlmWorkflowError {}
export class RateLimitedError extends LlmWorkflowError {}
export class ServiceUnavailableError extends LlmWorkflowError {}
export class ServerError extends LlmWorkflowError {}

const byStatus: Record<number, [ProblemKind, new (...args: ConstructorParameters<typeof LlmWorkflowError>) => LlmWorkflowError]> = {
  400: ["validation", ValidationError],
  401: ["authentication", AuthenticationError],
  403: ["permission", PermissionError],
  404: ["not_found", NotFoundError],
  409: ["conflict", ConflictError],
  410: ["gone", GoneError],
  413: ["too_large", LlmWorkflowError],
  422: ["idempotency_mismatch", IdempotencyMismatchError],
  429: ["rate_limited", RateLimitedError],
  503: ["unavailable", ServiceUnavailableError],
};

/** The typed error for a non-success answer; reads the body (problem+json or not) and Retry-After. */
export async function errorFromResponse(response: Response): Promise<LlmWorkflowError> {
  const text = await response.text().catch(() => "");
  let problem: Problem | null = null;
  try { problem = text ? JSON.parse(text) as Problem : null; } catch { problem = { detail: text.slice(0, 500) }; }
  const retryAfter = Number(response.headers.get("retry-after"));
  const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null;
  const [kind, type] = byStatus[response.status]
    ?? (response.status >= 500 ? ["server", ServerError] : ["unexpected", LlmWorkflowError]);
  return new type(kind, response.status, problem, retryAfterSeconds);
}

/**
 * A job ended failed or cancelled while the caller waited for it. `category` is the service's error taxonomy:
 * USER_ERROR (fix the input), CONFIG_ERROR (operators must fix the service), EXTERNAL_ERROR (a provider failed:
 * retry later), SYSTEM_ERROR (retry once). See docs/API_GUIDE.md, "Errors".
 */
export class JobFailedError extends Error {
  constructor(readonly jobId: string, readonly status: "failed" | "cancelled", readonly error: JobError | null) {
    super(error?.message ?? `job ${jobId} ended ${status}`);
    this.name = "JobFailedError";
  }

  get category(): ErrorCategory | null { return this.error?.category ?? null; }

  get retryable(): boolean { return this.error?.retryable ?? false; }
}
