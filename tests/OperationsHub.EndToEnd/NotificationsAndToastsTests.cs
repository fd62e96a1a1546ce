using Microsoft.Playwright;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.EndToEnd;

/// <summary>
/// Two people in one tenant. The initiator has two tabs open on different pages, a colleague a third. The initiator
/// starts a run from the dashboard; when it ends, both of the initiator's tabs toast and the colleague's does not.
/// </summary>
public sealed class NotificationsAndToastsTests(HubServer server) : IClassFixture<HubServer>
{
    [Fact]
    public async Task RunEnd_ToastsInEveryTabOfTheInitiator_AndNobodyElses()
    {
        var dashboard = await server.NewPageAsync();
        await HubServer.SignInAsync(dashboard, "operator@contoso.test", "/admin/t/contoso");
        var grid = await dashboard.Context.NewPageAsync(); // same browser context: the same signed-in user, a second tab
        await grid.GotoAsync("/admin/t/contoso/operations");
        await HubServer.WaitForInteractiveAsync(grid);
        var colleague = await server.NewPageAsync();
        await HubServer.SignInAsync(colleague, "manager@contoso.test", "/admin/t/contoso/operations");

        var badgeBefore = await UnreadAsync(dashboard);
        await HubServer.RecordAttributeAsync(dashboard, "[data-testid='notification-bell']", "aria-label", "bell");
        await dashboard.ClickAsync("[data-testid='start-policy_sync']");
        var queued = dashboard.Locator(".mud-snackbar", new() { HasTextString = "Policy sync queued" });
        await queued.WaitForAsync();
        await HubServer.ScreenshotAsync(dashboard, "dashboard-started");

        var toastOnDashboard = dashboard.Locator(".mud-snackbar", new() { HasTextString = "Policy sync succeeded" });
        var toastOnGrid = grid.Locator(".mud-snackbar", new() { HasTextString = "Policy sync succeeded" });
        await toastOnDashboard.WaitForAsync(new() { Timeout = 30_000 });
        await toastOnGrid.WaitForAsync(new() { Timeout = 10_000 });
        await HubServer.ScreenshotAsync(grid, "toast-second-tab");
        // The bell counted the run once, when it was queued (read from what the page recorded: the run takes ~3 s);
        // its end joined that entry (one story per run) rather than adding a second one.
        (await HubServer.RecordedAsync(dashboard, "bell")).Should().Equal(
            $"Notifications, {badgeBefore} unread",
            $"Notifications, {badgeBefore + 1} unread");
        await dashboard.ClickAsync("[data-testid='notification-bell']");
        var entry = dashboard.Locator("[data-testid='notification-list'] li").First;
        await Assertions.Expect(entry).ToContainTextAsync("Policy sync succeeded");
        await Assertions.Expect(entry.Locator("[data-testid='notification-story']")).ToContainTextAsync("queued");
        (await dashboard.Locator("[data-testid='notification-list']").InnerTextAsync()).Should().NotContain("Policy sync queued",
            "the finished entry replaces the queued one");
        await HubServer.ScreenshotAsync(dashboard, "bell-one-story");
        await dashboard.Keyboard.PressAsync("Escape");

        // The colleague's tab, open on the same tenant's grid all along, saw the run but got no toast and no bell.
        (await colleague.Locator(".mud-snackbar", new() { HasTextString = "Policy sync" }).CountAsync()).Should().Be(0);
        await Assertions.Expect(colleague.Locator("[data-testid='notification-bell']"))
            .ToHaveAttributeAsync("aria-label", "Notifications, 0 unread");

        // "View run" is a real link to the run (it opens in a new tab too), not a button.
        var viewRun = toastOnGrid.GetByRole(AriaRole.Link, new() { NameRegex = new System.Text.RegularExpressions.Regex("^View run #\\d+$") });
        (await viewRun.GetAttributeAsync("href")).Should().MatchRegex("^/admin/t/contoso/operations/\\d+$");
        await viewRun.ClickAsync();
        // An in-circuit navigation (history.pushState): wait for the address, not for a page load.
        await Assertions.Expect(grid).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/admin/t/contoso/operations/\\d+$"));
        await grid.Locator("h1", new() { HasTextString = "Policy sync #" }).WaitForAsync();
    }

    [Fact]
    public async Task Bell_ListsNotifications_AndMarksThemRead()
    {
        var page = await server.NewPageAsync();
        await HubServer.SignInAsync(page, "owner@fabrikam.test", "/admin/t/fabrikam");
        await page.ClickAsync("[data-testid='start-directory_sync']");
        await Assertions.Expect(page.Locator("[data-testid='notification-bell']"))
            .ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex("Notifications, [1-9]\\d* unread"));

        await page.ClickAsync("[data-testid='notification-bell']");
        await page.Locator("[data-testid='notification-list'] li").First.WaitForAsync();
        // Queued or already ended (one entry per run, so it says one or the other), and named by its number.
        (await page.Locator("[data-testid='notification-list'] li").First.InnerTextAsync()).Should().MatchRegex(@"Directory sync (queued|succeeded) #\d+");
        await HubServer.ScreenshotAsync(page, "notifications");

        await page.ClickAsync("[data-testid='mark-all-read']");
        await Assertions.Expect(page.Locator("[data-testid='notification-bell']"))
            .ToHaveAttributeAsync("aria-label", "Notifications, 0 unread");
    }

    [Fact]
    public async Task ReadonlyMember_SeesCardsWithoutStartButtons()
    {
        var page = await server.NewPageAsync();
        await HubServer.SignInAsync(page, "readonly@contoso.test", "/admin/t/contoso");

        await page.Locator("[data-operation='backup']").WaitForAsync();
        (await page.Locator("[data-testid^='start-']").CountAsync()).Should().Be(0);
        await page.Locator("[data-testid='readonly-note']").WaitForAsync();
    }

    private static async Task<int> UnreadAsync(IPage page)
    {
        var label = await page.Locator("[data-testid='notification-bell']").GetAttributeAsync("aria-label") ?? "";
        return int.Parse(System.Text.RegularExpressions.Regex.Match(label, "\\d+").Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
