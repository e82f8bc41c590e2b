namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// The in-process API on a test class's own database, with a caller and an admin client: for tests that write rows
/// straight into PostgreSQL (<see cref="Postgres"/>) and compare the API's answers with them. One per test class
/// (<see cref="ClassApi"/>, shared by its tests): each test compares with the rows it wrote, never with an empty
/// database.
/// </summary>
public abstract class ApiWithDatabase(ClassApi shared) : IClassFixture<ClassApi>
{
    protected ApiFactory Api => shared.Api;

    protected HttpClient Caller => shared.Caller;

    protected HttpClient Admin => shared.Admin;

    protected string Postgres => shared.Postgres;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;
}
