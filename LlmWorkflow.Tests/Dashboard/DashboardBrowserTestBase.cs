using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// What every dashboard browser test class shares: its pages' browser contexts (closed after each test), the console
/// errors they logged (a test ends by asserting there were none), the sign-in a person does, and the expect timeout
/// of a loaded CI machine.
/// </summary>
[SystemTest]
public abstract class DashboardBrowserTestBase : IAsyncLifetime
{
    /// <summary>Console errors of every page the test opened (each context's listener adds under this lock).</summary>
    protected List<string> ConsoleErrors { get; } = [];

    protected List<IBrowserContext> Contexts { get; } = [];

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract DashboardFixture Fixture { get; }

    public ValueTask InitializeAsync()
    {
        SetDefaultExpectTimeout(20_000);
        return ValueTask.CompletedTask;
    }

    /// <summary>A new page in a context of its own, its console errors collected.</summary>
    protected Task<IPage> NewPageAsync(ColorScheme scheme = ColorScheme.Light, int width = 1280, int height = 800) =>
        Fixture.NewPageAsync(scheme, width, height, Contexts, ConsoleErrors);

    /// <summary>Signs in through the form, as a person would; the key then lives in this context's sessionStorage.</summary>
    protected static async Task SignInAsync(IPage page, string hash)
    {
        await page.GotoAsync("dashboard/" + hash);
        await page.GetByLabel("Admin API key").FillAsync(TestEnvironment.AdminKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#nav")).ToBeVisibleAsync();
    }

    protected void AssertNoConsoleErrors()
    {
        lock (ConsoleErrors)
        {
            Assert.True(ConsoleErrors.Count == 0, "Console errors:\n" + string.Join("\n", ConsoleErrors));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var context in Contexts)
        {
            await context.CloseAsync();
        }

        GC.SuppressFinalize(this);
    }
}
