using Deque.AxeCore.Playwright;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.EndToEnd;

/// <summary>
/// Operator actions as admins meet them in a browser: retry a failed run from its page and follow the new run's log
/// live; bulk-cancel a filtered set of queued runs with the count shown before anything happens.
/// </summary>
public sealed class OperatorActionsTests(OperatorActionsTests.Server server) : IClassFixture<OperatorActionsTests.Server>
{
    /// <summary>
    /// The demo hub, where queued runs of a type this node does not run stay queued for minutes (as runs a newer node
    /// queued would), so a bulk cancel has queued runs to act on.
    /// </summary>
    public sealed class Server : HubServer
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Worker:UnknownTypeGrace"] = "00:10:00" };
    }

    [Theory]
    [InlineData("light", 1280)]
    [InlineData("dark", 390)]
    public async Task RetryAFailedRun_FromItsPage_ThenFollowTheNewRunsLogLive(string scheme, int width)
    {
        // Every device fails, slowly enough that the retry's log visibly grows while the page is open.
        var failed = await server.StartRunAsync("inventory_sync", "Kiosk fleet",
            new Dictionary<string, string> { ["items"] = "30", ["fail_every"] = "1", ["item_delay_ms"] = "120" });
        await WaitForAsync(async db => (await db.Runs.SingleAsync(r => r.Id == failed)).Status == RunStatus.Completed, "the first run to fail");

        var page = await server.NewPageAsync(scheme, bypassCsp: true, width: width, height: 900);
        // The theme is chosen on the dashboard first: the theme menu's closing hands focus back (and, at a phone's
        // width, lifts its overlay) on its own schedule, which once swallowed the retry click (CI, dark at 390).
        await HubServer.SignInAsync(page, "operator@contoso.test", "/admin/t/contoso");
        await Accessibility.SetThemeAsync(page, scheme);
        await page.GotoAsync($"/admin/t/contoso/operations/{failed}");
        await HubServer.WaitForInteractiveAsync(page);
        await Assertions.Expect(page.Locator(".mud-chip").First).ToHaveTextAsync("Failed");
        await Assertions.Expect(page.Locator("[data-testid='run-log'] .hub-log-message").Last).ToHaveTextAsync("Inventory refreshed: 0 devices read, 30 unreachable.");

        await page.ClickAsync("[data-testid='retry-run']");

        // The retry is a write and a navigation to a page that reads the run and its log: beside the other browser
        // classes on two cores it has taken longer than the 15 s default, so it gets the load drill's patience.
        await page.WaitForURLAsync(new System.Text.RegularExpressions.Regex($@"/admin/t/contoso/operations/(?!{failed}$)\d+$"), new() { Timeout = 45_000 });
        var retryId = long.Parse(page.Url[(page.Url.LastIndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        retryId.Should().NotBe(failed);
        await Assertions.Expect(page.Locator("[data-testid='retry-of']")).ToHaveTextAsync($"Retry of #{failed}");
        await Assertions.Expect(page.Locator("[data-testid='log-following']")).ToBeVisibleAsync();
        var lines = page.Locator("[data-testid='log-lines'] .hub-log-line");
        await Assertions.Expect(lines.First).ToBeVisibleAsync();
        var early = await lines.CountAsync();
        await HubServer.ScreenshotAsync(page, $"retry-log-live-{scheme}-{width}");

        // The log grows on the page while the run runs, without a reload, and ends with the handler's summary.
        await Assertions.Expect(page.Locator("[data-testid='run-log'] .hub-log-message").Last)
            .ToHaveTextAsync("Inventory refreshed: 0 devices read, 30 unreachable.", new() { Timeout = 30_000 });
        (await lines.CountAsync()).Should().BeGreaterThan(early, "lines arrived live after the page showed the first ones");
        await Assertions.Expect(page.Locator("[data-testid='log-following']")).ToHaveCountAsync(0);
        await page.SelectOptionAsync("[data-testid='log-level']", "warning");
        await Assertions.Expect(page.Locator("[data-testid='run-log'] [data-level='info']")).ToHaveCountAsync(0);
        await HubServer.ScreenshotAsync(page, $"retry-log-done-{scheme}-{width}");
        // Axe once no toast is mid-animation (a toast sliding in reads as low contrast; the completion toast stays).
        await page.WaitForFunctionAsync("() => document.getAnimations().every(a => a.playState !== 'running')");
        Accessibility.AssertNoSeriousViolations(await page.RunAxe(), $"run page with its log {width}", scheme);

        // The original names its retry.
        await page.GotoAsync($"/admin/t/contoso/operations/{failed}");
        await Assertions.Expect(page.Locator("[data-testid='retried-as']")).ToContainTextAsync($"#{retryId} by Priya Operator");
        await Assertions.Expect(page.Locator("[data-testid='timeline'] [data-event='retried']")).ToContainTextAsync($"Retried as #{retryId} by Priya Operator.");
    }

    [Fact]
    public async Task BulkCancel_AFilteredSetOfQueuedRuns_ShowsTheCountFirst()
    {
        var token = "bulkdrill" + Guid.NewGuid().ToString("N")[..8];
        var queued = await QueueUnrunnableAsync(token, 5);
        var page = await server.NewPageAsync("light", bypassCsp: true, height: 900);
        await HubServer.SignInAsync(page, "manager@contoso.test", $"/admin/t/contoso/operations?status=queued&q={token}");
        await HubServer.WaitForInteractiveAsync(page);
        await Assertions.Expect(page.Locator("tr.hub-run-row")).ToHaveCountAsync(5);

        // Keyboard: tab to the page's select-all box and tick it with the space bar.
        await page.Locator("input[data-testid='select-page']").FocusAsync();
        await page.Keyboard.PressAsync("Space");
        await Assertions.Expect(page.Locator("[data-testid='bulk-selected']")).ToHaveTextAsync("5 runs selected.");
        await page.ClickAsync("[data-testid='bulk-cancel']");

        var dialog = page.Locator("[data-testid='bulk-dialog']");
        await Assertions.Expect(dialog.Locator("[data-testid='bulk-count']")).ToHaveTextAsync("Cancel 5 runs?");
        await Assertions.Expect(dialog.Locator("[data-testid='bulk-breakdown']")).ToContainTextAsync("5 runs queued: cancelled at once.");
        await HubServer.ScreenshotAsync(page, "bulk-cancel-dialog");
        Accessibility.AssertNoSeriousViolations(await page.RunAxe(), "bulk cancel dialog", "light");
        (await CountAsync(db => db.Runs.CountAsync(r => queued.Contains(r.Id) && r.Status == RunStatus.Queued))).Should().Be(5, "nothing happens before the confirmation");

        await dialog.Locator("input[data-testid='bulk-reason']").FillAsync("Old node's leftovers");
        // The dialog's actions sit beside its content, outside the element that carries its test id.
        await page.Locator("[data-testid='bulk-confirm']").ClickAsync();

        var toast = page.Locator(".mud-snackbar", new() { HasTextString = "Bulk action queued" });
        await toast.WaitForAsync();
        // The grid shows queued runs only: they leave it, live, as the bulk run cancels them.
        await Assertions.Expect(page.Locator("[data-testid='no-matches']")).ToBeVisibleAsync(new() { Timeout = 20_000 });
        await HubServer.ScreenshotAsync(page, "bulk-cancel-done");
        await toast.Locator("[data-testid='toast-view-run']").ClickAsync();
        await Assertions.Expect(page.Locator(".mud-chip").First).ToHaveTextAsync("Succeeded", new() { Timeout = 20_000 });
        await Assertions.Expect(page.Locator("[data-testid='run-progress']")).ToContainTextAsync("5 succeeded");

        await using var db = await DbAsync();
        var bulkId = long.Parse(page.Url[(page.Url.LastIndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        foreach (var id in queued)
        {
            (await db.Runs.SingleAsync(r => r.Id == id)).Outcome.Should().Be(RunOutcome.Cancelled);
            (await db.RunEvents.Where(e => e.RunId == id).OrderByDescending(e => e.Id).Select(e => e.Message).FirstAsync())
                .Should().Be($"Cancelled by bulk action #{bulkId} (Mateo Manager) before it started. Reason: Old node's leftovers");
        }
    }

    /// <summary>Queued runs of a type this node does not run (they stay queued), with the token in their target.</summary>
    private async Task<List<long>> QueueUnrunnableAsync(string token, int count)
    {
        await using var db = await DbAsync();
        var tenant = await db.Tenants.SingleAsync(t => t.ExternalId == "contoso");
        var owner = await db.Users.SingleAsync(u => u.Email == "owner@contoso.test");
        var runs = Enumerable.Range(1, count).Select(i => new OperationRun
        {
            TenantId = tenant.Id,
            Type = "legacy_export",
            Status = RunStatus.Queued,
            Outcome = RunOutcome.Pending,
            RunIdentityHash = Guid.NewGuid().ToString("N"),
            Target = $"Export {i} {token}",
            ContextJson = "{\"inputs\":{}}",
            InitiatorUserId = owner.Id,
            InitiatorName = owner.DisplayName,
            CreatedAt = DateTime.UtcNow,
            UpdatedAt = DateTime.UtcNow,
            Version = 1,
        }).ToList();
        db.Runs.AddRange(runs);
        await db.SaveChangesAsync();
        return [.. runs.Select(r => r.Id)];
    }

    private Task<HubDbContext> DbAsync() => server.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync();

    private async Task<int> CountAsync(Func<HubDbContext, Task<int>> count)
    {
        await using var db = await DbAsync();
        return await count(db);
    }

    private async Task WaitForAsync(Func<HubDbContext, Task<bool>> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await using (var db = await DbAsync())
            {
                if (await condition(db))
                {
                    return;
                }
            }

            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await Task.Delay(200);
        }
    }
}
