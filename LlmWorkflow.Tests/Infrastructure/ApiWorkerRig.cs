using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// An in-process API with its own database, and a worker started with it or later (<see cref="StartWorkerAsync"/>):
/// for tests of what happens to a job while no worker runs and once one does (delayed runs, time-to-live).
/// </summary>
internal sealed class ApiWorkerRig : IAsyncDisposable
{
    private readonly Dictionary<string, string?> _settings;
    private readonly ApiFactory _api;
    private WorkerHost? _worker;

    private ApiWorkerRig(Dictionary<string, string?> settings)
    {
        _settings = settings;
        _api = new ApiFactory(settings);
        Client = _api.CreateAuthenticatedClient();
        Admin = _api.CreateAuthenticatedClient(admin: true);
    }

    public HttpClient Client { get; }

    public HttpClient Admin { get; }

    public IServiceProvider Services => _api.Services;

    /// <summary>
    /// A reconcile interval no test outlasts: the safety-net pass (which also wakes what is due) never runs, so a job
    /// woken or ended in a test's time was pushed there by a notice; the due-time loop's own reread is a minute away.
    /// With the pass on (3 s shipped) a lateness bound could only tell push from poll by being tighter than a loaded
    /// CI machine keeps (a sleep woken 1.8 s late by load failed a 1-s bound).
    /// </summary>
    public const string SafetyNetOff = "00:10:00";

    /// <param name="settings">Settings beside the test environment's; the reconcile pass is off (<see cref="SafetyNetOff"/>) unless they say otherwise.</param>
    public static async Task<ApiWorkerRig> StartAsync(
        TestServers servers, string name, bool worker, CancellationToken ct, IDictionary<string, string?>? settings = null)
    {
        var environment = await TestEnvironment.CreateAsync(servers, name);
        var all = new Dictionary<string, string?> { ["Worker:ReconcileInterval"] = SafetyNetOff };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var rig = new ApiWorkerRig(environment.Settings(all));
        if (worker)
        {
            await rig.StartWorkerAsync(ct);
        }

        return rig;
    }

    public async Task StartWorkerAsync(CancellationToken ct) => _worker = await WorkerHost.StartAsync(_settings, ct);

    public async Task<JsonObject> SubmitAsync(object body, CancellationToken ct)
    {
        using var response = await Client.PostAsJsonAsync("/api/v1/workflow", body, ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return answer!;
    }

    public async Task<JsonObject> StatusAsync(JsonObject accepted, CancellationToken ct) =>
        (await Client.GetFromJsonAsync<JsonObject>((string)accepted["status_url"]!, ct))!;

    public async ValueTask DisposeAsync()
    {
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }

        Client.Dispose();
        Admin.Dispose();
        await _api.DisposeAsync();
    }
}
