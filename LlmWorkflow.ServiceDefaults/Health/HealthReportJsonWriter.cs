using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmWorkflow.ServiceDefaults.Health;

/// <summary>
/// Writes a health report as JSON: overall status and, per check, status, description, duration, tags, data and
/// the error message, so a dashboard can show which dependency is failing and why. Beside them, <c>services</c> in
/// document 001's shape (<see cref="DocumentServiceHealth"/>: lower-case status, type, workers, <c>celery</c>), added
/// for clients written from that document; the members above keep their names and values.
/// </summary>
public static class HealthReportJsonWriter
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false };

    /// <summary>A <c>HealthCheckOptions.ResponseWriter</c>.</summary>
    public static async Task WriteAsync(HttpContext context, HealthReport report)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(report);
        context.Response.ContentType = "application/json; charset=utf-8";

        using var buffer = new MemoryStream();
        await using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("status", report.Status.ToString());
            json.WriteNumber("totalDurationMs", Math.Round(report.TotalDuration.TotalMilliseconds, 2));
            json.WriteStartObject("checks");
            foreach (var (name, entry) in report.Entries)
            {
                json.WriteStartObject(name);
                json.WriteString("status", entry.Status.ToString());
                json.WriteString("description", entry.Description);
                json.WriteNumber("durationMs", Math.Round(entry.Duration.TotalMilliseconds, 2));
                json.WriteStartArray("tags");
                foreach (var tag in entry.Tags)
                {
                    json.WriteStringValue(tag);
                }

                json.WriteEndArray();
                if (entry.Exception is { } exception)
                {
                    json.WriteString("error", exception.Message);
                }

                if (entry.Data.Count > 0)
                {
                    json.WritePropertyName("data");
                    JsonSerializer.Serialize(json, entry.Data);
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
            WriteServices(json, report);
            json.WriteEndObject();
        }

        await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted);
    }

    private static void WriteServices(Utf8JsonWriter json, HealthReport report)
    {
        json.WriteStartObject("services");
        foreach (var service in DocumentServiceHealth.From(report))
        {
            json.WriteStartObject(service.Name);
            json.WriteString("status", service.Status);
            if (service.Type is { } type)
            {
                json.WriteString("type", type);
            }

            if (service.Workers is { } workers)
            {
                json.WriteNumber("workers", workers);
            }

            json.WriteEndObject();
        }

        json.WriteEndObject();
    }
}
