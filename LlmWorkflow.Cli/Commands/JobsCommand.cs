using System.CommandLine;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Display;
using Spectre.Console;

namespace LlmWorkflow.Cli.Commands;

/// <summary><c>jobs</c>: the service's job list with its filters (<c>GET /api/v1/jobs</c>), newest first.</summary>
internal static class JobsCommand
{
    public static Command Create(CliConsole console)
    {
        var status = new Option<string?>("--status", "-s") { Description = "status_filter: pending, queued, processing, completed, failed or cancelled." };
        var userId = new Option<string?>("--user-id") { Description = "Only this user's jobs." };
        var limit = new Option<int?>("--limit", "-n") { Description = "Page size, 1-200 (default 50)." };
        var offset = new Option<int?>("--offset") { Description = "Rows to skip." };
        var limitResults = new Option<string?>("--limit-results") { Description = "A count \"1\"-\"500\" or a period: \"Today\", \"7 Days\", \"30 Days\" (UTC)." };
        var json = CommonOptions.Json("Print the service's JSON answer {jobs[], total, limit, offset}.");
        var service = new ServiceOptions();
        var command = new Command("jobs", "List jobs on the service.") { status, userId, limit, offset, limitResults, json };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = service.Connect(parse, console);
            var page = await client.ListJobsAsync(new Dictionary<string, string?>
            {
                ["status_filter"] = parse.GetValue(status),
                ["user_id"] = parse.GetValue(userId),
                ["limit"] = parse.GetValue(limit)?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["offset"] = parse.GetValue(offset)?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["limit_results"] = parse.GetValue(limitResults),
            }, cancellationToken);
            if (parse.GetValue(json))
            {
                await console.Out.WriteLineAsync(page.ToJsonString(CliJson.Indented));
            }
            else
            {
                console.Ansi.Write(Table(page));
            }

            return ExitCodes.Success;
        });
        return command;
    }

    internal static Table Table(JsonObject page)
    {
        var jobs = (page["jobs"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"{jobs.Count} of {(int?)page["total"] ?? jobs.Count} jobs")
            // A job id is copied and pasted: it must stay on one line however narrow the terminal.
            .AddColumn(new TableColumn("Job").NoWrap()).AddColumn("Workflow").AddColumn("Status").AddColumn(new TableColumn("%").RightAligned())
            .AddColumn("User").AddColumn("Created (UTC)").AddColumn(new TableColumn("Duration").RightAligned())
            .AddColumn(new TableColumn("Tokens").RightAligned()).AddColumn(new TableColumn("Cost").RightAligned());
        foreach (var job in jobs)
        {
            table.AddRow(
                Markup.Escape((string?)job["job_id"] ?? ""),
                Markup.Escape((string?)job["workflow_name"] ?? ""),
                Markup.Escape((string?)job["status"] ?? ""),
                ((int?)job["progress_percent"] ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape((string?)job["username"] ?? (string?)job["user_id"] ?? "-"),
                ((DateTimeOffset?)job["created_at"])?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) ?? "-",
                Format.Duration((double?)job["duration_ms"]),
                ((int?)job["total_tokens"] ?? 0).ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(Format.Cost((decimal?)job["cost_usd"], unpriced: false)));
        }

        return table;
    }
}
