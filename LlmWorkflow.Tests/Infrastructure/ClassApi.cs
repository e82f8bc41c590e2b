namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// The in-process API (<see cref="ApiFactory"/>) on a database of its own, built once for a test class and shared by
/// its tests (<c>IClassFixture&lt;ClassApi&gt;</c>). xUnit builds a test class per test case, so an API and a database
/// made in the class itself cost about a second per case; most request-and-answer tests need neither an empty
/// database nor a fresh host. A class that shares one must scope what it counts to rows it made (its own user, tenant
/// or job ids), so its tests hold in any order and alone. A subclass names the class in the database's name and adds
/// settings.
/// </summary>
public class ClassApi(TestServers servers) : IAsyncLifetime
{
    public ApiFactory Api { get; private set; } = null!;

    /// <summary>A client with the caller key.</summary>
    public HttpClient Caller { get; private set; } = null!;

    /// <summary>A client with the admin key.</summary>
    public HttpClient Admin { get; private set; } = null!;

    public string Postgres { get; private set; } = null!;

    /// <summary>Settings on top of <see cref="TestEnvironment.Settings"/>.</summary>
    protected virtual IDictionary<string, string?>? ExtraSettings => null;

    public async ValueTask InitializeAsync()
    {
        var environment = await TestEnvironment.CreateAsync(servers, GetType().Name);
        Postgres = environment.PostgresConnectionString;
        Api = new ApiFactory(environment.Settings(ExtraSettings));
        Configure(Api);
        Caller = Api.CreateAuthenticatedClient();
        Admin = Api.CreateAuthenticatedClient(admin: true);
    }

    /// <summary>For a subclass that serves the API differently (real Kestrel) before the first client starts it.</summary>
    protected virtual void Configure(ApiFactory api)
    {
    }

    public async ValueTask DisposeAsync()
    {
        Caller.Dispose();
        Admin.Dispose();
        await Api.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
