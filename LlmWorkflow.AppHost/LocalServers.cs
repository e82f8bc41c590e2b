using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LlmWorkflow.AppHost;

/// <summary>A server run from a local binary that hands out a connection string, like Aspire's container resources do.</summary>
public sealed class LocalServerResource(string name, string command, string workingDirectory, string connectionString)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    /// <inheritdoc />
    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{connectionString}");
}

/// <summary>
/// postgres and redis-server from the machine's binaries as Aspire executable resources, for machines where no container
/// runtime can run Aspire's images (no Docker engine, Podman older than 5 or offline). Aspire has no such integration,
/// hence these few lines. Data lives under the checkout's <c>.data</c> (or <c>--data</c>), is initialised on first
/// start by a <c>postgres-init</c> step and reused afterwards; both listen on 127.0.0.1 only, postgres with trust
/// authentication, so no generated password can disagree with an existing data directory.
/// </summary>
public static class LocalServers
{
    /// <summary>postgres on a free loopback port, its cluster in <paramref name="dataDirectory"/>; the connection string names <paramref name="database"/>.</summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddLocalPostgres(
        this IDistributedApplicationBuilder builder, string name, string dataDirectory, string database, bool proxied)
    {
        var bin = LocalServerPrograms.PostgresBinDirectory();
        var port = FreeLoopbackPort();
        var listenPort = proxied ? FreeLoopbackPort() : port;
        var connectionString = $"Host=127.0.0.1;Port={port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database={database}";

        // As root the server must run as the postgres account (setpriv execs it). The orchestrator does not run postgres
        // itself but FastShutdownScript, which turns its stop signal into postgres's fast shutdown and waits for it.
        string[] server = [Path.Combine(bin, "postgres"), "-D", dataDirectory,
            .. LocalServerPrograms.PostgresSettings(listenPort).Append("unix_socket_directories=").SelectMany(setting => new[] { "-c", setting })];
        var account = LocalServerPrograms.PostgresAccount;
        string[] asAccount = Environment.UserName == "root"
            ? ["setpriv", $"--reuid={account}", $"--regid={account}", "--init-groups", "--"]
            : [];
        var resource = new LocalServerResource(name, "bash", "/", connectionString);

        var init = builder.AddExecutable($"{name}-init", "bash", "/", ["-c", InitScript, $"{name}-init", dataDirectory, bin, database, account,
                .. LocalServerPrograms.InitdbArguments(dataDirectory)])
            .WithParentRelationship(resource);

        var healthCheck = $"{name}_check";
        // No pooling: an idle pooled session would hold postgres's smart shutdown open when the AppHost stops.
        builder.Services.AddHealthChecks().AddNpgSql(connectionString + ";Pooling=false", name: healthCheck);
        return builder.AddResource(resource)
            .WithArgs(["-c", FastShutdownScript, name, .. asAccount, .. server])
            .WithServerEndpoint(port, listenPort, proxied)
            .WithHealthCheck(healthCheck)
            .WaitForCompletion(init)
            .WithIconName("Database");
    }

    /// <summary>redis-server on a free loopback port with the append-only file on, its data in <paramref name="dataDirectory"/>.</summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddLocalRedis(
        this IDistributedApplicationBuilder builder, string name, string dataDirectory, bool proxied)
    {
        var program = LocalServerPrograms.RedisServer();
        var port = FreeLoopbackPort();
        var listenPort = proxied ? FreeLoopbackPort() : port;
        var connectionString = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        Directory.CreateDirectory(dataDirectory);

        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(connectionString, name: healthCheck);
        return builder.AddResource(new LocalServerResource(name, program, dataDirectory, connectionString))
            .WithArgs([.. LocalServerPrograms.RedisArguments(listenPort, dataDirectory, noSnapshots: "\"\"")])
            .WithServerEndpoint(port, listenPort, proxied)
            .WithHealthCheck(healthCheck)
            .WithIconName("Memory");
    }

    // First start: initdb (trust authentication; the server listens on loopback only) and the database, in single-user
    // mode so nothing listens meanwhile. Later starts find PG_VERSION and keep the data. As root the cluster belongs to
    // the postgres account, which must be able to reach it.
    private const string InitScript = """
        set -eu
        data=$1 bin=$2 database=$3 account=$4
        shift 4
        if [ -f "$data/PG_VERSION" ]; then echo "reusing the PostgreSQL cluster in $data"; exit 0; fi
        mkdir -p "$data"
        run=""
        if [ "$(id -u)" = 0 ]; then
          chown "$account:$account" "$data"
          dir=$(dirname "$data")
          while [ "$dir" != / ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done
          run="setpriv --reuid=$account --regid=$account --init-groups --"
        fi
        $run "$bin/initdb" "$@"
        echo "CREATE DATABASE \"$database\"" | $run "$bin/postgres" --single -D "$data" postgres > /dev/null
        echo "initialised a PostgreSQL cluster with the database $database in $data"
        """;

    // The orchestrator stops an executable with SIGTERM, which is postgres's smart shutdown: it waits for every client
    // to disconnect, the orchestrator's patience ran out first and it killed postgres (a 15.5 s Ctrl+C, and a cluster
    // left "in production" that the next start had to recover). This runs postgres as its child and answers SIGTERM or
    // SIGINT by waiting, for up to 3 s, until no client is connected (a backend is a child of postgres whose title
    // holds the client's address, "postgres: user db 127.0.0.1(port) idle"), then SIGINT, the fast shutdown (a
    // checkpoint and "shut down" in pg_control: well under a second when idle), and waits until postgres has exited.
    // The api and the workers stop at the same time and their last writes need the server: the smart shutdown refused
    // them a new connection, so they retried until the fast shutdown cut them off (a worker's stop took 7-12 s under
    // load); now the server takes their connections until they have gone. Its exit code is postgres's.
    // (A background command of a script starts with SIGINT ignored, but postgres sets its own handler for it.)
    private const string FastShutdownScript = """
        "$@" &
        server=$!
        clients() {
          local children title
          read -r -a children < "/proc/$server/task/$server/children" 2> /dev/null || return 1
          for child in "${children[@]}"; do
            IFS= read -r -d '' title < "/proc/$child/cmdline" 2> /dev/null
            case "$title" in *"("*")"*) return 0 ;; esac
          done
          return 1
        }
        stop() {
          for _ in $(seq 30); do clients || break; sleep 0.1; done
          kill -INT "$server" 2> /dev/null
        }
        trap 'stop &' TERM INT
        while kill -0 "$server" 2> /dev/null; do wait "$server"; done
        wait "$server"
        """;

    // Clients (the connection string, the health check) always use `port`. Unproxied (the default) the server listens
    // there itself; proxied (AppHost:Proxied, to measure the proxy) the orchestrator's proxy listens there and forwards
    // to the server on `listenPort`.
    private static IResourceBuilder<LocalServerResource> WithServerEndpoint(
        this IResourceBuilder<LocalServerResource> server, int port, int listenPort, bool proxied) =>
        server.WithEndpoint(port: port, targetPort: proxied ? listenPort : null, name: "tcp", scheme: "tcp", isProxied: proxied);

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
