using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.External;

/// <summary>
/// Reads an operation's parameters after the engine resolved expressions: values may arrive as JSON numbers or as
/// strings, so both are accepted. Bad values are USER_ERRORs naming the parameter.
/// </summary>
public static class ServiceParameters
{
    public static string? String(JsonObject parameters, string name) => parameters[name] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>() is { Length: > 0 } text ? text.Trim() : null,
        JsonValue value => value.ToJsonString(),
        _ => throw Invalid(name, "must be a text value"),
    };

    public static string RequireString(JsonObject parameters, string name, string operation) =>
        String(parameters, name) ?? throw WorkflowException.User("missing_parameter", $"Operation '{operation}' needs the parameter '{name}'.");

    public static double? Number(JsonObject parameters, string name) => parameters[name] switch
    {
        null => null,
        // ToJsonString handles numbers created from any CLR type (int, decimal) as well as parsed ones.
        JsonValue value when value.GetValueKind() == JsonValueKind.Number => double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture),
        JsonValue value when value.GetValueKind() == JsonValueKind.String
            && double.TryParse(value.GetValue<string>(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => throw Invalid(name, "must be a number"),
    };

    /// <summary>A whole number within bounds, or the default when absent.</summary>
    public static int Integer(JsonObject parameters, string name, int defaultValue, int min, int max)
    {
        var value = Number(parameters, name) ?? defaultValue;
        return value % 1 == 0 && value >= min && value <= max
            ? (int)value
            : throw Invalid(name, $"must be a whole number from {min} to {max}, not {value.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>
    /// Coordinates from <c>location: "lat,lng"</c>, <c>location: {lat, lng}</c> or separate <c>lat</c>/<c>lng</c>
    /// (also <c>latitude</c>/<c>longitude</c>, <c>lon</c>); null when none are given. Out-of-range values are USER_ERRORs.
    /// </summary>
    public static (double Latitude, double Longitude)? Coordinates(JsonObject parameters)
    {
        double? lat, lng;
        if (parameters["location"] is JsonObject location)
        {
            lat = Number(location, "lat") ?? Number(location, "latitude");
            lng = Number(location, "lng") ?? Number(location, "lon") ?? Number(location, "longitude");
        }
        else if (String(parameters, "location") is { } text && text.Contains(',', StringComparison.Ordinal))
        {
            var parts = text.Split(',', StringSplitOptions.TrimEntries);
            lat = parts.Length == 2 && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var a) ? a : throw BadCoordinates(text);
            lng = double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var b) ? b : throw BadCoordinates(text);
        }
        else
        {
            lat = Number(parameters, "lat") ?? Number(parameters, "latitude");
            lng = Number(parameters, "lng") ?? Number(parameters, "lon") ?? Number(parameters, "longitude");
        }

        if (lat is null && lng is null)
        {
            return null;
        }

        if (lat is not { } latitude || lng is not { } longitude || latitude is < -90 or > 90 || longitude is < -180 or > 180
            || double.IsNaN(latitude) || double.IsNaN(longitude))
        {
            throw BadCoordinates($"{lat?.ToString(CultureInfo.InvariantCulture) ?? "?"},{lng?.ToString(CultureInfo.InvariantCulture) ?? "?"}");
        }

        return (latitude, longitude);
    }

    public static string Format((double Latitude, double Longitude) coordinates) =>
        string.Create(CultureInfo.InvariantCulture, $"{coordinates.Latitude},{coordinates.Longitude}");

    private static WorkflowException BadCoordinates(string given) => WorkflowException.User(
        "invalid_coordinates",
        $"Invalid coordinates '{given}': latitude must be within -90..90 and longitude within -180..180.",
        "Pass location as \"lat,lng\" or lat and lng numbers.");

    private static WorkflowException Invalid(string name, string rule) =>
        WorkflowException.User("invalid_parameter", $"Parameter '{name}' {rule}.");
}
