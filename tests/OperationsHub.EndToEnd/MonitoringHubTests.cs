using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OperationsHub.Core.Data;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Samples;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.EndToEnd;

/// <summary>
/// The grid and the run page open in Chromium while the real Quartz worker starts and finishes runs: the DOM follows
/// without navigation, and the user's filter stays applied.
/// </summary>
public sealed class MonitoringHubTests(HubServer server) : IClassFixture<HubServer>
{
    [Fact]
    public async Task Grid_FollowsRunsLive_WithoutNavigation_AndKeepsTheFilter()
    {
        var page = await server.NewPageAsync();
        await HubServer.SignInAsync(page, "owner@contoso.test", "/admin/t/contoso/operations?type=policy_sync");
        await page.EvaluateAsync("() => window.__sameDocument = true");

        var matching = await StartAsync(SampleOperations.PolicySync, "Live grid policies", new() { ["items"] = "6", ["item_delay_ms"] = "400" });
        var other = await StartAsync(SampleOperations.DirectorySync, "Not in this view", new() { ["items"] = "3", ["item_delay_ms"] = "10" });

        var chipSelector = $"tr:has([data-run='{matching}']) [data-outcome]";
        await HubServer.RecordAttributeAsync(page, chipSelector, "data-status", "status");
        var row = page.Locator($"[data-run='{matching}']");
        await row.WaitForAsync();
        var chip = page.Locator(chipSelector);
        await HubServer.ScreenshotAsync(page, "grid-live");
        await Assertions.Expect(chip).ToHaveAttributeAsync("data-outcome", "Succeeded", new() { Timeout = 20_000 });
        // The row showed the run running, then completed (the run takes ~2.4 s, so this is recorded in the page, not
        // polled for). It may appear already claimed: the worker can take it before the grid's first refresh.
        (await HubServer.RecordedAsync(page, "status")).SkipWhile(s => s == "Queued").Should().Equal("Running", "Completed");

        (await page.EvaluateAsync<bool>("() => window.__sameDocument === true")).Should().BeTrue("updates arrive over the circuit, not by reloading");
        page.Url.Should().EndWith("/admin/t/contoso/operations?type=policy_sync");
        (await page.Locator($"[data-run='{other}']").CountAsync()).Should().Be(0, "the filter stays applied to live changes");
        (await page.Locator("[data-testid='live-announcer']").InnerTextAsync()).Should().Contain($"Run {matching}");
    }

    [Fact]
    public async Task RunPage_FollowsItsRunLive()
    {
        var runId = await StartAsync(SampleOperations.Backup, "Nightly backup", new() { ["duration_seconds"] = "4" });
        var page = await server.NewPageAsync();
        await HubServer.SignInAsync(page, "owner@contoso.test", $"/admin/t/contoso/operations/{runId}");
        await page.EvaluateAsync("() => window.__sameDocument = true");

        var chip = page.Locator("h1 ~ [data-status], .mud-chip[data-status]").First;
        await Assertions.Expect(page.Locator("[data-testid='timeline'] [data-event='started']")).ToHaveCountAsync(1, new() { Timeout = 15_000 });
        await HubServer.ScreenshotAsync(page, "run-live-running");
        await Assertions.Expect(page.Locator("[data-testid='timeline'] [data-event='completed']")).ToHaveCountAsync(1, new() { Timeout = 20_000 });
        await Assertions.Expect(chip).ToHaveAttributeAsync("data-outcome", "Succeeded");
        (await page.EvaluateAsync<bool>("() => window.__sameDocument === true")).Should().BeTrue();
    }

    [Theory]
    [InlineData("light")]
    [InlineData("dark")]
    public async Task BothPages_HaveNoSeriousAccessibilityViolations(string scheme)
    {
        var failed = await StartAsync(SampleOperations.Restore, "Baseline policies", new() { ["unmapped"] = "skip", ["fail_at"] = "2", ["item_delay_ms"] = "10" },
            new() { ["backup_id"] = await server.NewBackupAsync() });
        await WaitForCompletionAsync(failed);
        var page = await server.NewPageAsync(scheme, bypassCsp: true);
        await HubServer.SignInAsync(page, "manager@contoso.test", "/admin/t/contoso/operations");
        await Accessibility.SetThemeAsync(page, scheme);

        await page.Locator($"[data-run='{failed}']").WaitForAsync();
        await HubServer.ScreenshotAsync(page, $"operations-{scheme}");
        Accessibility.AssertNoSeriousViolations(await page.RunAxe(), "operations", scheme);

        await page.GotoAsync($"/admin/t/contoso/operations/{failed}");
        await HubServer.WaitForInteractiveAsync(page);
        await page.Locator("#failures-heading").WaitForAsync();
        await HubServer.ScreenshotAsync(page, $"run-{scheme}");
        Accessibility.AssertNoSeriousViolations(await page.RunAxe(), "run detail", scheme);
    }

    [Theory]
    [InlineData("light")]
    [InlineData("dark")]
    public async Task Dashboard_WithToastsShowing_HasNoSeriousAccessibilityViolations(string scheme)
    {
        var page = await server.NewPageAsync(scheme, bypassCsp: true);
        await HubServer.SignInAsync(page, "owner@contoso.test", "/admin/t/contoso");
        await Accessibility.SetThemeAsync(page, scheme);

        // A failed restore (error toast, stays), a policy sync (success toast) and the neutral "queued" toasts.
        // The restore card leads to the restore page; a failing restore of this owner's comes in through the start path.
        await server.StartRunAsync(SampleOperations.Restore, "Toast check", new() { ["unmapped"] = "skip", ["fail_at"] = "2", ["item_delay_ms"] = "300" },
            new() { ["backup_id"] = await server.NewBackupAsync() });
        await page.ClickAsync("[data-testid='start-policy_sync']");
        await page.Locator(".mud-snackbar", new() { HasTextString = "Restore failed" }).WaitForAsync(new() { Timeout = 30_000 });
        await page.Locator(".mud-snackbar", new() { HasTextString = "Policy sync succeeded" }).WaitForAsync(new() { Timeout = 30_000 });
        // Toasts fade in and out, and a fading toast has no contrast to judge: wait until the short-lived "queued"
        // toasts have gone (a few seconds) and nothing moves, then judge the failure and success toasts at once.
        await page.Locator(".mud-snackbar.mud-alert-filled-normal").First.WaitForAsync(new() { State = WaitForSelectorState.Detached, Timeout = 20_000 });
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.mud-snackbar')].every(e => e.getAnimations({ subtree: true }).every(a => a.playState !== 'running'))");
        await HubServer.ScreenshotAsync(page, $"dashboard-toasts-{scheme}");

        // Toasts never cover a control of the page: no visible button, link, input or select of the page meets one.
        var covered = await page.EvaluateAsync<string[]>("""
            () => {
                const toasts = [...document.querySelectorAll('.mud-snackbar')].map(t => t.getBoundingClientRect());
                const meets = (r, t) => r.left < t.right && r.right > t.left && r.top < t.bottom && r.bottom > t.top;
                return [...document.querySelectorAll('#main-content button, #main-content a[href], #main-content input, #main-content select')]
                    .filter(e => e.getClientRects().length > 0)
                    .filter(e => toasts.some(t => meets(e.getBoundingClientRect(), t)))
                    .map(e => e.outerHTML.slice(0, 100));
            }
            """);
        (await page.Locator(".mud-snackbar").CountAsync()).Should().BeGreaterThanOrEqualTo(2);
        covered.Should().BeEmpty("toasts keep clear of the page's controls");

        Accessibility.AssertNoSeriousViolations(await page.RunAxe(), "dashboard with toasts", scheme);

        // The notifications panel opens above the toasts: the middle of each toast is the panel's backdrop or the
        // panel, never the toast.
        await page.ClickAsync("[data-testid='notification-bell']");
        await page.Locator("[data-testid='notification-list']").WaitForAsync();
        var toastsOnTop = await page.EvaluateAsync<int>("""
            () => [...document.querySelectorAll('.mud-snackbar')].map(t => t.getBoundingClientRect())
                .map(r => document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2))
                .filter(e => e && e.closest('.mud-snackbar')).length
            """);
        toastsOnTop.Should().Be(0, "an open panel is not covered by toasts");
        await page.Keyboard.PressAsync("Escape");
    }

    [Theory]
    [InlineData("light")]
    [InlineData("dark")]
    public async Task Keyboard_FirstStopIsSkipToContent_AndFocusedControlsShowARing(string scheme)
    {
        var page = await server.NewPageAsync(scheme);
        await HubServer.SignInAsync(page, "owner@contoso.test", "/admin/t/contoso");
        await Accessibility.SetThemeAsync(page, scheme);
        await page.ReloadAsync();
        await HubServer.WaitForInteractiveAsync(page);

        // The skip link comes first in tab order, is off screen until focused, then on screen.
        (await page.EvaluateAsync<string>(
                "() => [...document.querySelectorAll('a[href], button, input, select, [tabindex]')].find(e => e.tabIndex >= 0)?.dataset.testid ?? ''"))
            .Should().Be("skip-to-content");
        (await page.Locator("[data-testid='skip-to-content']").BoundingBoxAsync())!.Y.Should().BeNegative("hidden until focused");
        await page.Keyboard.PressAsync("Tab");
        await page.FocusAsync("[data-testid='skip-to-content']");
        (await page.Locator("[data-testid='skip-to-content']").BoundingBoxAsync())!.Y.Should().BeGreaterThanOrEqualTo(0, "the focused skip link is on screen");

        // Keyboard modality is on (the Tab above), so focusing a control now draws its focus-visible ring.
        foreach (var selector in new[] { "[data-testid='start-backup']", "[data-testid='notification-bell']", ".hub-brand" })
        {
            await page.FocusAsync(selector);
            var ring = await page.EvaluateAsync<string[]>(
                "s => { const e = document.querySelector(s); const c = getComputedStyle(e); return [c.outlineStyle, c.outlineWidth]; }", selector);
            ring.Should().Equal(["solid", "3px"], $"{selector} shows where the keyboard is ({scheme})");
        }

        await page.FocusAsync("[data-testid='start-backup']");
        await HubServer.ScreenshotAsync(page, $"focus-ring-{scheme}");
    }

    [Fact]
    public async Task Grid_FiltersRoundTripThroughTheUrl_AndBackWorks()
    {
        var page = await server.NewPageAsync();
        await HubServer.SignInAsync(page, "owner@contoso.test", "/admin/t/contoso/operations");

        // Same-document navigations (history.pushState): wait for the address itself, not for a page load.
        await page.ClickAsync("[data-testid='summary-failed']");
        await Assertions.Expect(page).ToHaveURLAsync(Url("?outcome=failed&range=24h"));
        await page.GetByLabel("Search runs").FillAsync("Baseline");
        await Assertions.Expect(page).ToHaveURLAsync(Url("?outcome=failed&range=24h&q=Baseline"));

        await page.GoBackAsync(new() { WaitUntil = WaitUntilState.Commit });
        await Assertions.Expect(page).ToHaveURLAsync(Url("?outcome=failed&range=24h"));
        await Assertions.Expect(page.GetByLabel("Search runs")).ToHaveValueAsync("");
        await page.GoBackAsync(new() { WaitUntil = WaitUntilState.Commit });
        await Assertions.Expect(page).ToHaveURLAsync(Url(""));
    }

    private static System.Text.RegularExpressions.Regex Url(string query) =>
        new("/admin/t/contoso/operations" + System.Text.RegularExpressions.Regex.Escape(query) + "$");

    private Task<long> StartAsync(string type, string target, Dictionary<string, string> inputs, Dictionary<string, string>? identity = null) =>
        server.StartRunAsync(type, target, inputs, identity);

    private async Task WaitForCompletionAsync(long runId)
    {
        var dbFactory = server.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            if (await db.Runs.AnyAsync(r => r.Id == runId && r.CompletedAt != null))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Run {runId} did not complete.");
    }
}
