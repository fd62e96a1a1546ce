using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OperationsHub.Core.Data;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.EndToEnd;

/// <summary>
/// A hub whose open pages re-check their session only every five minutes, so what these tests see after a sign-out
/// is the action's own check, never the periodic one.
/// </summary>
public sealed class SlowRevalidationHubServer : HubServer
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Authentication:SessionRevalidationInterval"] = "00:05:00",
    };
}

public sealed class SessionEndTests(SlowRevalidationHubServer server) : IClassFixture<SlowRevalidationHubServer>
{
    [Fact]
    public async Task AClickInAnotherTab_AfterSignOut_IsRefusedByTheActionItself_AndTheTabShowsWhy()
    {
        var first = await server.NewPageAsync();
        await HubServer.SignInAsync(first, "operator@contoso.test", "/admin/t/contoso");
        var acting = await first.Context.NewPageAsync();
        await acting.GotoAsync("/admin/t/contoso");
        await HubServer.WaitForInteractiveAsync(acting);
        var runsBefore = await RunsAsync();

        await first.ClickAsync("[data-testid='user-menu'] button");
        await first.ClickAsync("[data-testid='sign-out']");
        await first.WaitForURLAsync("**/account/login**");

        await acting.ClickAsync("[data-testid='start-directory_sync']");

        await acting.Locator("[data-testid='signed-out']").WaitForAsync();
        (await acting.GetByRole(AriaRole.Heading, new() { Level = 1 }).InnerTextAsync()).Should().Be("You were signed out — sign in again");
        (await RunsAsync()).Should().Be(runsBefore, "the click after sign-out created nothing");
        (await acting.Locator("[data-testid='notification-bell']").CountAsync()).Should().Be(0);
        await HubServer.ScreenshotAsync(acting, "signed-out-elsewhere");
    }

    private async Task<int> RunsAsync()
    {
        var dbFactory = server.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync();
        return await db.Runs.CountAsync();
    }
}
