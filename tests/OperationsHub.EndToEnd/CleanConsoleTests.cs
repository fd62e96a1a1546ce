using Microsoft.Playwright;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.EndToEnd;

/// <summary>
/// Every page, in both themes, loads without a console error, a failed request or a sub-resource answering an error
/// status: what a user never sees but the browser counts (a CSP refusal, a missing stylesheet) fails here.
/// </summary>
public sealed class CleanConsoleTests(HubServer server) : IClassFixture<HubServer>
{
    private static readonly string[] Pages =
    [
        "/", "/admin/t/contoso", "/admin/t/contoso/operations", "/admin/t/contoso/operations?status=completed&q=dev",
    ];

    [Theory]
    [InlineData("light")]
    [InlineData("dark")]
    public async Task EveryPage_LoadsWithoutConsoleErrorsOrFailedRequests(string scheme)
    {
        var page = await server.NewPageAsync(scheme);
        var problems = Watch(page);

        await page.GotoAsync("/account/login");
        await page.GetByRole(AriaRole.Heading, new() { Level = 1 }).WaitForAsync();
        await HubServer.SignInAsync(page, "owner@contoso.test", "/");
        var runId = await StartAnyRunAsync(page);
        await page.GotoAsync("/admin/t/contoso/operations/987654321"); // the not-found page, inside the app's shell
        // Its own 404, and the browser's console line about it, are the answer asked for; nothing else may fail there.
        problems.Should().HaveCount(2).And.Contain(p => p.StartsWith("404 for ", StringComparison.Ordinal) && p.EndsWith("/987654321", StringComparison.Ordinal));
        problems.Clear();
        foreach (var path in Pages.Append($"/admin/t/contoso/operations/{runId}"))
        {
            await page.GotoAsync(path);
            await HubServer.WaitForInteractiveAsync(page);
            await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
        }

        problems.Should().BeEmpty($"no page should log an error or fail a request ({scheme})");
    }

    private async Task<long> StartAnyRunAsync(IPage page)
    {
        await page.GotoAsync("/admin/t/contoso");
        await HubServer.WaitForInteractiveAsync(page);
        await page.ClickAsync("[data-testid='start-policy_sync']");
        await page.Locator("[data-operation='policy_sync'] a[href*='/operations/']").First.WaitForAsync();
        var dbFactory = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<OperationsHub.Core.Data.HubDbContext>>(server.Services);
        await using var db = await dbFactory.CreateDbContextAsync();
        return await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.MaxAsync(db.Runs, r => r.Id);
    }

    private static List<string> Watch(IPage page)
    {
        var problems = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                problems.Add($"console {message.Type} on {page.Url}: {message.Text}");
            }
        };
        page.PageError += (_, error) => problems.Add($"script error on {page.Url}: {error}");
        page.RequestFailed += (_, request) =>
        {
            // Leaving a page aborts its circuit's socket and any late fetch: that is the browser's doing, not ours.
            if (request.Failure is not "net::ERR_ABORTED")
            {
                problems.Add($"request failed: {request.Url} ({request.Failure})");
            }
        };
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                problems.Add($"{response.Status} for {response.Url}");
            }
        };
        return problems;
    }
}
