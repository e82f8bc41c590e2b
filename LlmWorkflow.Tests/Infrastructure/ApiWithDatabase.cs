namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// The in-process API on a test class's own database, with a caller and an admin client: for tests that write rows
/// straight into PostgreSQL (<see cref="Postgres"/>) and compare the API's answers with them. One per test class.
/// </summary>
public abstract class ApiWithDatabase(TestServers servers) : IAsyncLifetime
{
    protected ApiFactory Api { get; private set; } = null!;

    protected HttpClient Caller { get; private set; } = null!;

    protected HttpClient Admin { get; private set; } = null!;

    protected string Postgres { get; private set; } = null!;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var environment = await TestEnvironment.CreateAsync(servers, GetType().Name);
        Postgres = environment.PostgresConnectionString;
        Api = new ApiFactory(environment.Settings());
        Caller = Api.CreateAuthenticatedClient();
        Admin = Api.CreateAuthenticatedClient(admin: true);
    }

    public async ValueTask DisposeAsync()
    {
        Caller.Dispose();
        Admin.Dispose();
        await Api.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
