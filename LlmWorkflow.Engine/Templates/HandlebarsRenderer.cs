using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using HandlebarsDotNet;
using HandlebarsDotNet.IO;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Templates;

/// <summary>
/// Compiles and renders prompt bodies with Handlebars (<c>{{var}}</c>, <c>{{#if}}</c>, <c>{{#each}}</c>). Prompts are
/// not HTML, so nothing is escaped. An unknown variable renders empty, as Handlebars does: its strict mode would
/// also fail <c>{{#if optional}}</c>, which prompts need. Compiled templates are cached by body text.
/// </summary>
internal static class HandlebarsRenderer
{
    private const int CacheLimit = 1_000;

    private static readonly IHandlebars Environment = CreateEnvironment();

    private static readonly ConcurrentDictionary<string, HandlebarsTemplate<object, object>> Cache = new(StringComparer.Ordinal);

    /// <summary>Compiles (or takes from the cache); throws <see cref="HandlebarsException"/> for bad syntax.</summary>
    public static HandlebarsTemplate<object, object> Compile(string body)
    {
        if (Cache.TryGetValue(body, out var cached))
        {
            return cached;
        }

        var compiled = Environment.Compile(body);
        if (Cache.Count < CacheLimit)
        {
            Cache.TryAdd(body, compiled);
        }

        return compiled;
    }

    /// <summary>The problem with the body's syntax, or null when it compiles.</summary>
    public static string? SyntaxProblem(string body)
    {
        try
        {
            Compile(body);
            return null;
        }
        catch (HandlebarsException syntax)
        {
            return syntax.Message;
        }
    }

    public static string Render(string path, string body, JsonNode? variables)
    {
        HandlebarsTemplate<object, object> template;
        try
        {
            template = Compile(body);
        }
        catch (HandlebarsException syntax)
        {
            throw WorkflowException.Config("invalid_prompt", $"Prompt '{path}': template syntax: {syntax.Message}");
        }

        try
        {
            return template(TemplateData.From(variables) ?? new Dictionary<string, object?>());
        }
        catch (HandlebarsRuntimeException failure)
        {
            throw WorkflowException.Config("invalid_prompt", $"Prompt '{path}': rendering failed: {failure.Message}");
        }
    }

    private static IHandlebars CreateEnvironment()
    {
        var configuration = new HandlebarsConfiguration { NoEscape = true };
        configuration.FormatterProviders.Add(new JsonDataFormatter());
        return Handlebars.Create(configuration);
    }

    /// <summary>Writes <c>{{object}}</c> and <c>{{array}}</c> as compact JSON instead of Handlebars' item-by-item output.</summary>
    private sealed class JsonDataFormatter : IFormatterProvider, IFormatter
    {
        public bool TryCreateFormatter(Type type, out IFormatter formatter)
        {
            formatter = this;
            return type.IsAssignableTo(typeof(TemplateData.IJsonData));
        }

        public void Format<T>(T value, in EncodedTextWriter writer) => writer.Write(value!.ToString(), false);
    }

    /// <summary>JSON values as the plain .NET objects Handlebars binds to; objects and arrays print as JSON.</summary>
    private static class TemplateData
    {
        public static object? From(JsonNode? node) => node switch
        {
            null => null,
            JsonObject obj => new JsonObjectData(obj),
            JsonArray array => new JsonArrayData(array),
            JsonValue value when JsonValueSemantics.TryGetString(value, out var text) => text,
            JsonValue value when value.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => value.GetValue<bool>(),
            JsonValue value when JsonValueSemantics.TryGetNumber(value, out var number) => number == Math.Floor(number) && Math.Abs(number) < 1e15 ? (long)number : number,
            _ => null,
        };

        /// <summary>Marks converted objects and arrays, which print as JSON.</summary>
        public interface IJsonData;

        private sealed class JsonObjectData : Dictionary<string, object?>, IJsonData
        {
            private readonly JsonObject source;

            public JsonObjectData(JsonObject source)
                : base(StringComparer.Ordinal)
            {
                this.source = source;
                foreach (var (key, value) in source)
                {
                    this[key] = From(value);
                }
            }

            public override string ToString() => ValueText.Render(source);
        }

        private sealed class JsonArrayData(JsonArray source) : List<object?>(source.Select(From)), IJsonData
        {
            public override string ToString() => ValueText.Render(source);
        }
    }
}
