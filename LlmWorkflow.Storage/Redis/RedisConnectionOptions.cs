using System.Globalization;
using System.Net.Security;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Redis;

/// <summary>
/// Where and how to connect, read from <c>ConnectionStrings:redis</c> and handed to StackExchange.Redis as
/// <see cref="ConfigurationOptions"/> (<see cref="ApplyTo"/>): StackExchange.Redis reads only its own form, and the
/// documented <c>REDIS_URL</c> gives a URL. <see cref="Parse"/> accepts the StackExchange/Aspire form
/// (<c>host:port,password=..,ssl=true,user=..,defaultDatabase=..,connectTimeout=..,syncTimeout=..</c>, times in
/// milliseconds, unknown keys ignored) and URLs (<c>redis://[user:pass@]host:port/db</c>, <c>rediss://</c> for TLS,
/// with the same keys allowed as query parameters).
/// </summary>
internal sealed class RedisConnectionOptions
{
    public const int DefaultPort = 6379;

    public string Host { get; set; } = "localhost";

    public int Port { get; set; } = DefaultPort;

    /// <summary>ACL user name (Redis 6+); null authenticates as the default user.</summary>
    public string? User { get; set; }

    public string? Password { get; set; }

    public bool Ssl { get; set; }

    /// <summary>Name expected on the server's certificate, when it differs from <see cref="Host"/>.</summary>
    public string? SslHost { get; set; }

    /// <summary>Custom server certificate check (e.g. a private CA); null uses the system's trust store.</summary>
    public RemoteCertificateValidationCallback? CertificateValidation { get; set; }

    public int Database { get; set; }

    /// <summary>Time allowed for TCP connect, TLS handshake, AUTH and SELECT together.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time allowed for a reply.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Sets these settings on StackExchange.Redis's options. A connection that cannot be made at start does not fail
    /// the host: the multiplexer keeps trying, and each command fails (503 in the API) until Redis answers.
    /// </summary>
    public void ApplyTo(ConfigurationOptions options)
    {
        options.EndPoints.Clear();
        options.EndPoints.Add(Host, Port);
        options.User = User;
        options.Password = Password;
        options.Ssl = Ssl;
        options.SslHost = SslHost;
        if (CertificateValidation is { } validate)
        {
            options.CertificateValidation += validate;
        }

        options.DefaultDatabase = Database;
        options.ConnectTimeout = (int)ConnectTimeout.TotalMilliseconds;
        options.SyncTimeout = (int)CommandTimeout.TotalMilliseconds;
        options.AsyncTimeout = (int)CommandTimeout.TotalMilliseconds;
        options.AbortOnConnectFail = false;
    }

    public static RedisConnectionOptions Parse(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var text = connectionString.Trim();
        return text.StartsWith("redis://", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase)
            ? ParseUrl(text)
            : ParseKeyValueForm(text);
    }

    private static RedisConnectionOptions ParseKeyValueForm(string text)
    {
        var options = new RedisConnectionOptions();
        string? endpoint = null;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                endpoint ??= part; // Only the first endpoint is used; there is no cluster or sentinel support.
            }
            else
            {
                options.Apply(part[..equals].Trim(), part[(equals + 1)..].Trim());
            }
        }
        if (endpoint is null)
        {
            throw new FormatException("The Redis connection string names no host.");
        }
        // StackExchange.Redis defaults to 6380 for TLS when the port is left out; keep that meaning.
        (options.Host, options.Port) = SplitEndpoint(endpoint, options.Ssl ? 6380 : DefaultPort);
        return options;
    }

    private static RedisConnectionOptions ParseUrl(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException($"'{Redact(text)}' is not a valid Redis URL.");
        }
        var options = new RedisConnectionOptions
        {
            Host = uri.Host.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port,
            Ssl = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase),
        };
        if (uri.UserInfo.Length > 0)
        {
            var (user, password) = uri.UserInfo.IndexOf(':', StringComparison.Ordinal) is var colon and >= 0
                ? (uri.UserInfo[..colon], uri.UserInfo[(colon + 1)..])
                : (uri.UserInfo, "");
            options.User = user.Length > 0 ? Uri.UnescapeDataString(user) : null;
            options.Password = password.Length > 0 ? Uri.UnescapeDataString(password) : null;
        }
        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            options.Database = ParseInt("database", path);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                options.Apply(Uri.UnescapeDataString(pair[..equals]), Uri.UnescapeDataString(pair[(equals + 1)..]));
            }
        }
        return options;
    }

    private void Apply(string key, string value)
    {
        switch (key.ToLowerInvariant())
        {
            case "password": Password = value.Length > 0 ? value : null; break;
            case "user": User = value.Length > 0 ? value : null; break;
            case "ssl": Ssl = ParseBool(key, value); break;
            case "sslhost": SslHost = value.Length > 0 ? value : null; break;
            case "defaultdatabase": Database = ParseInt(key, value); break;
            case "connecttimeout": ConnectTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value)); break;
            case "synctimeout" or "asynctimeout": CommandTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value)); break;
            default: break; // abortConnect, name, allowAdmin, ... mean nothing to this client.
        }
    }

    private static (string Host, int Port) SplitEndpoint(string endpoint, int defaultPort)
    {
        // "[::1]:6379", "::1" (bare IPv6, no port), "host:6379" or "host".
        if (endpoint.StartsWith('['))
        {
            var close = endpoint.IndexOf(']', StringComparison.Ordinal);
            var host = endpoint[1..close];
            var rest = endpoint[(close + 1)..];
            return (host, rest.StartsWith(':') ? ParseInt("port", rest[1..]) : defaultPort);
        }
        var colon = endpoint.LastIndexOf(':');
        return colon < 0 || endpoint.IndexOf(':', StringComparison.Ordinal) != colon
            ? (endpoint, defaultPort)
            : (endpoint[..colon], ParseInt("port", endpoint[(colon + 1)..]));
    }

    private static int ParseInt(string key, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) && number >= 0
            ? number
            : throw new FormatException($"Redis connection string: '{value}' is not a valid {key}.");

    private static bool ParseBool(string key, string value) =>
        bool.TryParse(value, out var flag) ? flag : throw new FormatException($"Redis connection string: '{value}' is not a valid {key}.");

    private static string Redact(string text) =>
        text.IndexOf('@', StringComparison.Ordinal) is var at and > 0 ? text[..(text.IndexOf("//", StringComparison.Ordinal) + 2)] + "***" + text[at..] : text;

    /// <summary>The endpoint and settings without secrets, for logs.</summary>
    public override string ToString() =>
        $"{(Ssl ? "rediss" : "redis")}://{(User is null ? "" : User + "@")}{Host}:{Port}/{Database}";
}
