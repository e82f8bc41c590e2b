export { LlmWorkflowClient, terminalStatuses } from "./client.js";
export type {
  CreateScheduleRequest, EventsOptions, JobAccepted, JobStatus, JobStatusResponse, LlmWorkflowClientOptions, ProjectDocument,
  RescheduleTo, ScheduleListResponse, ScheduleResponse, Schemas, SignalResponse, StartProjectRequest, SubmitOptions, SubmitRequest,
  Submitted, WaitOptions,
} from "./client.js";
export {
  AuthenticationError, ConflictError, errorFromResponse, GoneError, IdempotencyMismatchError, JobFailedError, LlmWorkflowError,
  NotFoundError, PermissionError, RateLimitedError, ServerError, ServiceUnavailableError, ValidationError,
} from "./errors.js";
export type { ErrorCategory, JobError, Problem, ProblemKind } from "./errors.js";
export { terminalEventTypes } from "./events.js";
export type { LiveEvent, LiveEventType } from "./events.js";
export { verifyWebhook, verifyWebhookPayload, WebhookVerificationError } from "./webhooks.js";
export type { WebhookBody } from "./webhooks.js";
export { routes, schemaFields } from "./generated/routes.js";
export type { components, operations, paths } from "./generated/openapi.js";
