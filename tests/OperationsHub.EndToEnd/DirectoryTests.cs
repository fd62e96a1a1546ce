using Deque.AxeCore.Playwright;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.EndToEnd;

/// <summary>
/// The directory as an admin meets it in the demo (Local sign-in, the built-in directory): the cache the first sync
/// filled, the restore page's DB-only mapping with its helper text, and the access page's group search, disabled with
/// its reason.
/// </summary>
public sealed class DirectoryTests(HubServer server) : IClassFixture<HubServer>
{
    [Theory]
    [InlineData("light")]
    [InlineData("dark")]
    public async Task DirectoryPage_ListsTheCachedGroups_AndSearchesThem(string scheme)
    {
        await WaitForDemoCacheAsync();
        var page = await server.NewPageAsync(scheme, bypassCsp: true);
        await HubServer.SignInAsync(page, "readonly@contoso.test", "/admin/t/contoso/directory");
        await Accessibility.SetThemeAsync(page, scheme);

        await Assertions.Expect(page.Locator("[data-testid='directory-cache-help']")).ToContainTextAsync("Only Directory sync runs write it");
        await Assertions.Expect(page.Locator("[data-testid='directory-last-run']")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid='directory-range']")).ToHaveTextAsync("1–25 of 60");
        await HubServer.ScreenshotAsync(page, $"directory-{scheme}");
        Accessibility.AssertNoSeriousViolations(await page.RunAxe(), "directory", scheme);
        await page.SetViewportSizeAsync(390, 844);
        await Assertions.Expect(page.Locator("[data-testid='directory-grid'] td[data-label='Kind']").First).ToBeVisibleAsync();
        await HubServer.ScreenshotAsync(page, $"directory-{scheme}-390");
        await page.SetViewportSizeAsync(1280, 800);

        await page.FillAsync("input[data-testid='directory-search']", "sales");
        await Assertions.Expect(page.Locator("[data-testid='directory-grid'] tbody tr")).ToHaveCountAsync(2);
        // Readonly watches: no "Sync now", and the help says who can refresh.
        await Assertions.Expect(page.Locator("[data-testid='directory-sync-now']")).ToHaveCountAsync(0);
    }

    [Theory]
    [InlineData("light", 1280)]
    [InlineData("dark", 390)]
    public async Task RestorePage_SuggestsOnlyUniqueNames_AndStartsARestoreWithTheMapping(string scheme, int width)
    {
        await WaitForDemoCacheAsync();
        var page = await server.NewPageAsync(scheme, bypassCsp: true, width: width, height: 900);
        await HubServer.SignInAsync(page, "operator@contoso.test", "/admin/t/contoso");
        await Accessibility.SetThemeAsync(page, scheme);
        await page.ClickAsync("[data-testid='open-restore']");
        await page.WaitForURLAsync("**/admin/t/contoso/restore");
        await HubServer.WaitForInteractiveAsync(page);

        await Assertions.Expect(page.Locator("[data-testid='directory-cache-help']")).ToContainTextAsync("never calls Microsoft Graph");
        var mapping = page.Locator("[data-testid='restore-mapping']");
        await Assertions.Expect(mapping.Locator("tbody tr")).ToHaveCountAsync(5);
        var allStaff = mapping.Locator("tr", new() { HasTextString = "All Staff" });
        await Assertions.Expect(allStaff.Locator("input")).ToHaveValueAsync("All Staff");
        await Assertions.Expect(allStaff).ToContainTextAsync("Suggested");
        var sales = mapping.Locator("tr", new() { HasTextString = "Sales" });
        await Assertions.Expect(sales.Locator("input")).ToHaveValueAsync("");
        await Assertions.Expect(sales).ToContainTextAsync("2 cached groups are named \"Sales\", so none is suggested");
        await HubServer.ScreenshotAsync(page, $"restore-{scheme}-{width}");
        Accessibility.AssertNoSeriousViolations(await page.RunAxe(), $"restore {width}", scheme);

        // Blocked by default while groups are unmapped: the page says which, and nothing starts.
        await page.ClickAsync("[data-testid='start-restore']");
        await Assertions.Expect(page.Locator("[data-testid='restore-error']")).ToContainTextAsync("\"Legacy Kiosks\"");

        // Map "Sales" by searching the cache, skip the rest, start.
        await sales.Locator("input").FillAsync("Sales");
        // Two cached groups are named "Sales"; the picker tells them apart by kind, mail and object id.
        await page.Locator(".mud-popover-open .mud-list-item", new() { HasTextString = "Sales · Security" }).ClickAsync();
        await page.Locator("[data-testid='restore-unmapped'] label", new() { HasTextString = "Start anyway" }).ClickAsync();
        await page.ClickAsync("[data-testid='start-restore']");
        var toast = page.Locator(".mud-snackbar", new() { HasTextString = "Restore queued" });
        await toast.WaitForAsync();
        var href = await toast.Locator("a").GetAttributeAsync("href");
        await page.GotoAsync(href!);
        await HubServer.WaitForInteractiveAsync(page);
        await Assertions.Expect(page.Locator("[data-testid='timeline'] [data-event='note']"))
            .ToContainTextAsync("assignments applied", new() { Timeout = 30_000 });
        await HubServer.ScreenshotAsync(page, $"restore-run-{scheme}-{width}");
    }

    [Theory]
    [InlineData("light")]
    [InlineData("dark")]
    public async Task AccessPage_InLocalMode_DisablesTheGroupSearch_AndSaysWhy_ButBindsFromTheCache(string scheme)
    {
        await WaitForDemoCacheAsync();
        var page = await server.NewPageAsync(scheme, bypassCsp: true);
        await HubServer.SignInAsync(page, "owner@contoso.test", "/admin/t/contoso/access");
        await Accessibility.SetThemeAsync(page, scheme);

        await Assertions.Expect(page.Locator("[data-testid='group-search-disabled']")).ToContainTextAsync("you signed in with a local hub account");
        await Assertions.Expect(page.Locator("[data-testid='group-search-button']")).ToBeDisabledAsync();
        await Assertions.Expect(page.Locator("input[data-testid='group-search-text']")).ToBeDisabledAsync();
        await Assertions.Expect(page.Locator("[data-testid='access-members']")).ToContainTextAsync("Priya Operator");
        await HubServer.ScreenshotAsync(page, $"access-{scheme}");
        Accessibility.AssertNoSeriousViolations(await page.RunAxe(), "access", scheme);

        // The keyboard reaches the cache tab; a group from the cache binds.
        await page.GetByRole(AriaRole.Tab, new() { Name = "From the directory cache" }).ClickAsync();
        await page.FillAsync("input[data-testid='bind-cached']", "Help");
        await page.Locator(".mud-popover-open .mud-list-item", new() { HasTextString = "Help Desk" }).ClickAsync();
        await page.SelectOptionAsync("[data-testid='bind-role']", "Operator");
        await page.ClickAsync("[data-testid='bind-cached-button']");
        await Assertions.Expect(page.Locator("[data-testid='access-bindings']")).ToContainTextAsync("Help Desk");
        await HubServer.ScreenshotAsync(page, $"access-bound-{scheme}");
        await page.SetViewportSizeAsync(390, 844);
        await HubServer.ScreenshotAsync(page, $"access-bound-{scheme}-390");
        await page.SetViewportSizeAsync(1280, 800);
        await page.Locator("[data-testid='access-bindings'] [data-testid^='unbind-']").First.ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid='bindings-empty']")).ToBeVisibleAsync();
    }

    /// <summary>The demo seed started a directory sync and a backup per tenant at start-up; wait until both are in.</summary>
    private async Task WaitForDemoCacheAsync()
    {
        var dbFactory = server.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            var contoso = await db.Tenants.SingleAsync(t => t.ExternalId == "contoso");
            if (await db.DirectorySyncStates.AnyAsync(s => s.TenantId == contoso.Id) && await db.Backups.AnyAsync(b => b.TenantId == contoso.Id && b.Assignments.Count == 9))
            {
                return;
            }

            DateTime.UtcNow.Should().BeBefore(deadline, "the demo's first directory sync and backup finish within a minute");
            await Task.Delay(200);
        }
    }
}
