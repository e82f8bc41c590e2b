using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace LlmWorkflow.Cli.Commands;

/// <summary>
/// <c>keys create|list|rotate|revoke</c>: the service's database API keys through its admin routes
/// (<c>/api/v1/admin/keys</c>), with an admin key. A new key's secret is printed once, by create and rotate.
/// </summary>
internal static class KeysCommand
{
    public static Command Create(CliConsole console) => new("keys", "Create, list, rotate and revoke the service's API keys (needs an admin key).")
    {
        CreateCommand(console),
        ListCommand(console),
        RotateCommand(console),
        RevokeCommand(console),
    };

    private static Command CreateCommand(CliConsole console)
    {
        var name = new Option<string>("--name") { Description = "Names the key (letters, digits, . _ : @ -).", Required = true };
        var tenant = new Option<string?>("--tenant") { Description = "The tenant (application) whose jobs the key owns. Default: the name." };
        var role = new Option<string?>("--role") { Description = "caller (default): its tenant's jobs; admin: every tenant and the admin routes." };
        role.AcceptOnlyFromAmong("caller", "admin");
        var userId = new Option<string?>("--user-id") { Description = "Bind the key to one user: it acts as that user whatever a request says." };
        var expiresAt = new Option<DateTimeOffset?>("--expires-at") { Description = "When the key stops working (ISO 8601, e.g. 2027-01-01T00:00:00Z). Default: never." };
        var json = CommonOptions.Json("Print the service's JSON answer {api_key, key}.");
        var service = new ServiceOptions(admin: true);
        var command = new Command("create", "Create an API key and print its secret (shown this once).") { name, tenant, role, userId, expiresAt, json };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = service.Connect(parse, console);
            var request = new JsonObject { ["name"] = parse.GetRequiredValue(name) };
            AddIfSet(request, "tenant_id", parse.GetValue(tenant));
            AddIfSet(request, "role", parse.GetValue(role));
            AddIfSet(request, "user_id", parse.GetValue(userId));
            AddIfSet(request, "expires_at", parse.GetValue(expiresAt)?.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
            var answer = await client.CreateKeyAsync(request, cancellationToken);
            await PrintIssuedAsync(console, answer, parse.GetValue(json), "created");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command ListCommand(CliConsole console)
    {
        var tenant = new Option<string?>("--tenant") { Description = "Only this tenant's keys." };
        var json = CommonOptions.Json("Print the service's JSON answer {keys[]}.");
        var service = new ServiceOptions(admin: true);
        var command = new Command("list", "List API keys: prefix, tenant, role, state and times (never secrets).") { tenant, json };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = service.Connect(parse, console);
            var answer = await client.ListKeysAsync(parse.GetValue(tenant), cancellationToken);
            if (parse.GetValue(json))
            {
                await console.Out.WriteLineAsync(answer.ToJsonString(CliJson.Indented));
            }
            else
            {
                console.Ansi.Write(Table((answer["keys"] as JsonArray ?? []).OfType<JsonObject>().ToList()));
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command RotateCommand(CliConsole console)
    {
        var keyId = KeyIdArgument();
        var overlap = new Option<string?>("--overlap")
        {
            Description = "How long the old key keeps working: 0, or a number with s, m, h or d (e.g. 90m, 24h), up to 7d. Default: 24h.",
        };
        overlap.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } text && OverlapSeconds(text) is null)
            {
                result.AddError($"--overlap {text}: expected 0 or a number with s, m, h or d, e.g. 24h.");
            }
        });
        var json = CommonOptions.Json("Print the service's JSON answer {api_key, key, previous}.");
        var service = new ServiceOptions(admin: true);
        var command = new Command("rotate", "Issue a successor key (same tenant, name, role, user) and print its secret; the old key works until the overlap ends.")
        {
            keyId, overlap, json,
        };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = service.Connect(parse, console);
            var seconds = parse.GetValue(overlap) is { } text ? OverlapSeconds(text) : null;
            var answer = await client.RotateKeyAsync(parse.GetRequiredValue(keyId), seconds, cancellationToken);
            await PrintIssuedAsync(console, answer, parse.GetValue(json), "rotated");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command RevokeCommand(CliConsole console)
    {
        var keyId = KeyIdArgument();
        var json = CommonOptions.Json("Print the service's JSON answer (the revoked key).");
        var service = new ServiceOptions(admin: true);
        var command = new Command("revoke", "Revoke an API key: it stops working at once.") { keyId, json };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = service.Connect(parse, console);
            var key = await client.RevokeKeyAsync(parse.GetRequiredValue(keyId), cancellationToken);
            await console.Out.WriteLineAsync(parse.GetValue(json)
                ? key.ToJsonString(CliJson.Indented)
                : $"key {(string?)key["id"]} ({(string?)key["prefix"]}…, tenant {(string?)key["tenant_id"]}): revoked at {(string?)key["revoked_at"]}");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Seconds in an overlap such as <c>0</c>, <c>90s</c>, <c>30m</c>, <c>24h</c> or <c>7d</c>; null when unreadable.</summary>
    internal static int? OverlapSeconds(string text)
    {
        if (text == "0")
        {
            return 0;
        }

        var unit = text.Length > 1 ? text[^1] switch { 's' => 1, 'm' => 60, 'h' => 3600, 'd' => 86_400, _ => 0 } : 0;
        return unit > 0 && int.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count <= int.MaxValue / unit
            ? count * unit
            : null;
    }

    private static Argument<string> KeyIdArgument()
    {
        var argument = new Argument<string>("key_id") { Description = "The key's id, as `llmwf keys list` shows it (a GUID)." };
        argument.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } value && !Guid.TryParse(value, out _))
            {
                result.AddError($"\"{value}\" is not a key id (expected a GUID; `llmwf keys list` shows them).");
            }
        });
        return argument;
    }

    private static async Task PrintIssuedAsync(CliConsole console, JsonObject answer, bool json, string verb)
    {
        if (json)
        {
            await console.Out.WriteLineAsync(answer.ToJsonString(CliJson.Indented));
            return;
        }

        var key = answer["key"] as JsonObject ?? [];
        await console.Out.WriteLineAsync($"API key {verb}. Its secret is shown this once; store it now:");
        await console.Out.WriteLineAsync();
        await console.Out.WriteLineAsync($"  {(string?)answer["api_key"]}");
        await console.Out.WriteLineAsync();
        await console.Out.WriteLineAsync(
            $"id {(string?)key["id"]}, tenant {(string?)key["tenant_id"]}, name {(string?)key["name"]}, role {(string?)key["role"]}" +
            ((string?)key["user_id"] is { } user ? $", bound to user {user}" : "") +
            ((string?)key["expires_at"] is { } expires ? $", expires {expires}" : ""));
        if (answer["previous"] is JsonObject previous)
        {
            await console.Out.WriteLineAsync($"The old key {(string?)previous["id"]} ({(string?)previous["prefix"]}…) works until {(string?)previous["expires_at"]}.");
        }
    }

    private static Table Table(IReadOnlyList<JsonObject> keys)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"{keys.Count} API keys")
            .AddColumn(new TableColumn("Id").NoWrap()).AddColumn(new TableColumn("Prefix").NoWrap()).AddColumn("Tenant").AddColumn("Name")
            .AddColumn("Role").AddColumn("User").AddColumn("State").AddColumn("Created (UTC)").AddColumn("Expires (UTC)").AddColumn("Last used (UTC)");
        foreach (var key in keys)
        {
            table.AddRow(
                Markup.Escape((string?)key["id"] ?? ""),
                Markup.Escape(((string?)key["prefix"] ?? "") + "…"),
                Markup.Escape((string?)key["tenant_id"] ?? ""),
                Markup.Escape((string?)key["name"] ?? ""),
                Markup.Escape((string?)key["role"] ?? ""),
                Markup.Escape((string?)key["user_id"] ?? "-"),
                Markup.Escape((string?)key["state"] ?? ""),
                Time(key["created_at"]),
                Time(key["expires_at"]),
                Time(key["last_used_at"]));
        }

        return table;
    }

    private static string Time(JsonNode? value) =>
        ((DateTimeOffset?)value)?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";

    private static void AddIfSet(JsonObject request, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            request[name] = value;
        }
    }
}
