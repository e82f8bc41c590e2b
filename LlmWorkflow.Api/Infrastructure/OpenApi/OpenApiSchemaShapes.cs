using LlmWorkflow.Contracts;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using Microsoft.OpenApi;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Api.Infrastructure.OpenApi;

/// <summary>
/// The shapes the generator cannot see because the service stores them as JSON documents (<c>result</c>,
/// <c>error</c>, <c>input_data</c>, step outputs) or writes them with custom converters (<c>on_error</c>), and the
/// string enums kept as text columns (job, step and webhook states). Added as components and referenced from the
/// properties that carry them, so generated clients get real types instead of <c>unknown</c>.
/// </summary>
internal static class OpenApiSchemaShapes
{
    public const string AnyJsonObject = "JsonObject";

    /// <summary>Components this class adds, by name.</summary>
    public static Dictionary<string, IOpenApiSchema> Components(OpenApiDocument document)
    {
        var components = Enums();
        foreach (var (name, schema) in Objects(document))
        {
            components[name] = schema;
        }

        return components;
    }

    /// <summary>The named string enums and the any-object schema.</summary>
    private static Dictionary<string, IOpenApiSchema> Enums() => new()
    {
        [AnyJsonObject] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "A JSON object with any members.",
            AdditionalProperties = new OpenApiSchema(),
        },
        ["JobStatus"] = StringEnum(
            "Lifecycle state of a job. scheduled: accepted with a run_at still ahead (no worker slot held); it becomes queued when due. " +
            "A job whose workflow makes no LLM or external API call is never processing: it is queued until its outcome is stored.",
            JobStatusNames.All),
        ["StepStatus"] = StringEnum("How a step ended.", Enum.GetValues<StepStatus>().Select(s => s.ToWire())),
        ["ErrorCategory"] = StringEnum("Error taxonomy: who can fix it.", Enum.GetValues<ErrorCategory>().Select(c => c.ToWire())),
        ["WebhookAttemptState"] = StringEnum("State of one webhook delivery attempt.",
            [WebhookAttemptStates.Pending, WebhookAttemptStates.Delivered, WebhookAttemptStates.Failed, WebhookAttemptStates.DeadLettered, WebhookAttemptStates.Gone]),
        ["JobActionStatus"] = StringEnum("Outcome of a cancel, retry, reschedule or fork request.", ["cancelled", "processing", "finished", "queued", "not_retryable", "not_scheduled", "not_finished", "workflow_unavailable"]),
        ["ApiKeyRole"] = StringEnum("caller: its tenant's jobs only; admin: every tenant and the admin routes.", LlmWorkflow.Api.Auth.StoredApiKey.Roles),
        ["ApiKeyState"] = StringEnum("active; rotated (a successor exists, valid until expires_at); expired; revoked.", LlmWorkflow.Api.Auth.StoredApiKey.States),
        ["OnErrorMode"] = StringEnum("What the runner does when a step fails.", ["fail", "continue", "retry", "default"]),
    };

    /// <summary>The named object schemas: error policy, cost data, the list's 400, a job's result and error.</summary>
    private static Dictionary<string, IOpenApiSchema> Objects(OpenApiDocument document) => new()
    {
        ["OnErrorPolicy"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "on_error in its object form (the string form is just the mode).",
            Required = new HashSet<string> { "mode" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["mode"] = Ref("OnErrorMode", document),
                ["max_attempts"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
                ["backoff_seconds"] = new OpenApiSchema { Type = JsonSchemaType.Number, Format = "double" },
                ["backoff_multiplier"] = new OpenApiSchema { Type = JsonSchemaType.Number, Format = "double" },
                ["value"] = AnyJson("The output used with mode default."),
            },
            AdditionalPropertiesAllowed = false,
        },
        ["CostData"] = Object("Tokens and dollars of a run (the documents' cost_data).", new()
        {
            ["provider"] = NullableString("Provider of the last LLM call that answered, e.g. openrouter."),
            ["model"] = NullableString("Model of the last LLM call that answered."),
            ["input_tokens"] = Integer(),
            ["output_tokens"] = Integer(),
            ["total_tokens"] = Integer(),
            ["cost_usd"] = new OpenApiSchema { Type = JsonSchemaType.Number | JsonSchemaType.Null, Description = "USD; null when a model used is unpriced." },
            ["unpriced"] = new OpenApiSchema { Type = JsonSchemaType.Boolean },
            ["requested_service_tier"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Only for a job of a cheaper tier: the tier it asked for (flex or batch). Each llm step's usage says the tier that served it." },
            ["list_cost_usd"] = new OpenApiSchema { Type = JsonSchemaType.Number, Description = "Only for a job of a cheaper tier: its priced calls at the list (standard) price." },
            ["discount_usd"] = new OpenApiSchema { Type = JsonSchemaType.Number, Description = "Only for a job of a cheaper tier: list_cost_usd minus cost_usd." },
        }),
        ["InvalidLimitResultsProblem"] = new OpenApiSchema
        {
            Description = "The list's 400: a validation problem, plus document 003's members when limit_results is invalid.",
            AllOf =
            [
                Ref("HttpValidationProblemDetails", document),
                new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Properties = new Dictionary<string, IOpenApiSchema>
                    {
                        ["error"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("InvalidLimitResults")] },
                        ["message"] = new OpenApiSchema { Type = JsonSchemaType.String },
                        ["limit_results"] = NullableString("The value that was refused."),
                        ["valid_values"] = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                    },
                },
            ],
        },
        ["JobResult"] = Object("What a completed job produced. Each member of an object output is also here beside output and cost_data " +
                               "(document 000's shape: result.contacts as well as result.output.contacts), unless a member of that name is already here.", new()
        {
            ["output"] = AnyJson("The workflow's output (its definition's output mapping)."),
            ["cost_data"] = Ref("CostData", document),
        }),
        ["JobError"] = Object("Why a job or step failed (the documents' error object).", new()
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Error type, e.g. ValidationError, ProviderError, Timeout." },
            ["category"] = Ref("ErrorCategory", document),
            ["message"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["retryable"] = new OpenApiSchema { Type = JsonSchemaType.Boolean },
            ["retry_after"] = new OpenApiSchema { Type = JsonSchemaType.Number | JsonSchemaType.Null, Description = "Seconds to wait before retrying, when known." },
            ["step_id"] = NullableString("The failing step."),
            ["details"] = AnyJson("Structured details (e.g. the provider's status code)."),
            ["suggestions"] = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
        }),
    };

    /// <summary>Properties whose generated schema is replaced: (component, property) to the schema they really have.</summary>
    public static Dictionary<(string Schema, string Property), IOpenApiSchema> PropertyOverrides(OpenApiDocument document) => new()
    {
        [("JobStatusResponse", "status")] = Ref("JobStatus", document),
        [("JobStatusResponse", "input_data")] = Ref(AnyJsonObject, document),
        [("JobStatusResponse", "result")] = Nullable(Ref("JobResult", document), "Set once the job completed."),
        [("JobStatusResponse", "output")] = AnyJson("Document 001's top-level output: the same value as result.output; null until the job completed."),
        [("JobStatusResponse", "error")] = Nullable(Ref("JobError", document), "Set when the job failed; a cancelled job has none (error_message says it was cancelled)."),
        [("JobSummary", "status")] = Ref("JobStatus", document),
        [("JobSummary", "error")] = Nullable(Ref("JobError", document), "Set when the job failed."),
        [("JobAcceptedResponse", "status")] = Ref("JobStatus", document),
        [("JobActionResponse", "status")] = Ref("JobActionStatus", document),
        [("JobStepResponse", "status")] = Ref("StepStatus", document),
        [("JobStepResponse", "output")] = AnyJson("The step's output (null while running or when it failed)."),
        [("JobStepResponse", "error")] = Nullable(Ref("JobError", document), null),
        [("JobStepResponse", "input")] = AnyJson(
            "What the step was given: an llm step's template variables, an external_api step's service, operation and resolved params, " +
            "a transform's resolved config, a for_each's items, a conditional's condition and result. Values under secret names are " +
            "\"[REDACTED]\"; above 16 KiB it is {\"truncated\": true, \"size_bytes\": n, \"preview\": \"…\"}. Null for steps that ran before this was recorded."),

        [("JobAttemptSummary", "status")] = Ref("JobStatus", document),
        [("JobAttemptSummary", "error")] = Nullable(Ref("JobError", document), "The attempt's structured error, if it failed."),
        [("WebhookAttemptView", "state")] = Ref("WebhookAttemptState", document),
        [("ApiKeyView", "role")] = Ref("ApiKeyRole", document),
        [("ApiKeyView", "state")] = Ref("ApiKeyState", document),
        [("ApiKeyView", "prefix")] = new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Description = "The key's first 12 characters (lwk_ and 8 more), shown to tell keys apart; not enough to use it.",
        },
        [("ApiKeyIssued", "api_key")] = SecretKey(),
        [("ApiKeyRotated", "api_key")] = SecretKey(),
        [("CreateApiKeyRequest", "role")] = Nullable(Ref("ApiKeyRole", document), "Default: caller."),
        [("WebhookAttemptView", "payload")] = AnyJson("The signed body as sent."),
        [("SubmitWorkflowRequest", "workflow_name")] = new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Description = "Name of a workflow in the catalog (GET /api/v1/workflows), e.g. emergency_contacts.",
        },
        [("SubmitWorkflowRequest", "input_data")] = Ref(AnyJsonObject, document),
        [("StepDefinition", "on_error")] = new OpenApiSchema
        {
            Description = "fail (default), continue, retry, default, or an object with mode and its settings.",
            AnyOf = [new OpenApiSchema { Type = JsonSchemaType.Null }, Ref("OnErrorMode", document), Ref("OnErrorPolicy", document)],
        },
        [("WorkflowDefinition", "output")] = AnyJson("Output mapping of the workflow."),
    };

    /// <summary>
    /// Schemas whose members are not all always present: request bodies (only what the server needs is required)
    /// and problem details (RFC 9457 members the service always sets). Every other schema is a response body that
    /// always carries every property, null or not.
    /// </summary>
    public static IReadOnlyDictionary<string, string[]> ExplicitRequired { get; } = new Dictionary<string, string[]>
    {
        ["ProblemDetails"] = ["type", "title", "status"],
        ["HttpValidationProblemDetails"] = ["type", "title", "status"],
        ["OnErrorPolicy"] = ["mode"],
        ["JobError"] = ["type", "category", "message", "retryable"],
        // The tier members are there only for jobs of a cheaper tier: a standard job's cost data is as it always was.
        ["CostData"] = ["provider", "model", "input_tokens", "output_tokens", "total_tokens", "cost_usd", "unpriced"],
        ["SubmitWorkflowRequest"] = ["workflow_name"],
        ["ValidateWorkflowRequest"] = [],
        ["BulkDeleteRequest"] = ["job_ids"],
        ["CreateApiKeyRequest"] = ["name"],
        // Request bodies whose members may be left out (a client sends {} or only what it changes): optional, not
        // required-nullable, so a typed client (openapi-typescript under tsc --strict) accepts `body: {}`.
        ["RescheduleJobRequest"] = [],
        ["RetryJobRequest"] = [],
        ["ForkJobRequest"] = ["from_step"],
        ["StartProjectRequest"] = ["project_id", "chat_id", "topic", "life_skill", "group_size", "duration_min"],
        ["CreateScheduleRequest"] = ["name", "workflow_name", "cron"],
        ["UpdateScheduleRequest"] = [],
        ["PauseWorkflowRequest"] = [],
        ["BulkRetryRequest"] = [],
        ["BulkRetryFilter"] = [],
    };

    public static IOpenApiSchema Ref(string id, OpenApiDocument document) => new OpenApiSchemaReference(id, document);

    /// <summary>Any JSON value, null included (an empty schema).</summary>
    public static OpenApiSchema AnyJson(string? description) => new() { Description = description };

    private static OpenApiSchema Nullable(IOpenApiSchema schema, string? description) => new()
    {
        Description = description,
        AnyOf = [new OpenApiSchema { Type = JsonSchemaType.Null }, schema],
    };

    private static OpenApiSchema NullableString(string description) =>
        new() { Type = JsonSchemaType.String | JsonSchemaType.Null, Description = description };

    private static OpenApiSchema SecretKey() => new()
    {
        Type = JsonSchemaType.String,
        Description = "The key's secret, to send as X-API-Key. Returned only in this answer: it is stored as a SHA-256 digest and cannot be shown again.",
    };

    private static OpenApiSchema Integer() => new() { Type = JsonSchemaType.Integer, Format = "int32" };

    private static OpenApiSchema StringEnum(string description, IEnumerable<string> values) => new()
    {
        Type = JsonSchemaType.String,
        Description = description,
        Enum = values.Select(v => (JsonNode)JsonValue.Create(v)!).ToList(),
    };

    /// <summary>An object whose members are all required unless <see cref="ExplicitRequired"/> says otherwise.</summary>
    private static OpenApiSchema Object(string description, Dictionary<string, IOpenApiSchema> properties) => new()
    {
        Type = JsonSchemaType.Object,
        Description = description,
        Properties = properties,
    };
}
