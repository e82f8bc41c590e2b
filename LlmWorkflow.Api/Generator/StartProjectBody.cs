using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Api.Jobs;

namespace LlmWorkflow.Api.Generator;

/// <summary>
/// Reads <c>POST /generator/start</c>'s body without stopping at its first problem: each known field of the right
/// JSON kind fills the <see cref="StartProjectRequest"/>, and the known fields as sent (nulls left out) become the
/// job's input, so the workflow's input schema reports every wrong kind, range and missing field at once, named by
/// its field, beside a missing id.
/// </summary>
internal static class StartProjectBody
{
    private static readonly string[] TextFields = ["project_id", "chat_id", "title", "topic", "life_skill", "owner_email"];
    private static readonly string[] NumberFields = ["group_size", "duration_min"];

    public static async Task<(StartProjectRequest? Request, JsonObject? Input, SubmissionProblem? Problem)> ReadAsync(
        HttpRequest request, CancellationToken cancellationToken)
    {
        JsonNode? body;
        try
        {
            body = await JsonNode.ParseAsync(request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException ex)
        {
            return (null, null, new SubmissionProblem("body", $"The body is not JSON: {ex.Message}"));
        }

        if (body is not JsonObject fields)
        {
            return (null, null, new SubmissionProblem("body", "The body must be a JSON object with project_id, chat_id and the project's fields."));
        }

        var input = new JsonObject();
        foreach (var name in TextFields.Concat(NumberFields))
        {
            if (fields[name] is { } value)
            {
                input[name] = value.DeepClone();
            }
        }

        return (new StartProjectRequest
        {
            ProjectId = Text(fields, "project_id"),
            ChatId = Text(fields, "chat_id"),
            Title = Text(fields, "title"),
            Topic = Text(fields, "topic"),
            LifeSkill = Text(fields, "life_skill"),
            GroupSize = Whole(fields, "group_size"),
            DurationMin = Whole(fields, "duration_min"),
            OwnerEmail = Text(fields, "owner_email"),
        }, input, null);
    }

    private static string? Text(JsonObject fields, string name) =>
        fields[name] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    private static int? Whole(JsonObject fields, string name) =>
        fields[name] is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<int>(out var number) ? number : null;
}
