using Microsoft.Playwright;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.EndToEnd;

/// <summary>A person signing in, picking a tenant and opening Operations; and the 403/404 answers inside the circuit.</summary>
public sealed class SignInAndTenancyTests(HubServer server) : IClassFixture<HubServer>
{
    [Fact]
    public async Task DemoUser_SignsIn_PicksATenant_AndOpensOperations()
    {
        var page = await server.NewPageAsync();

        await page.GotoAsync("/admin/t/fabrikam/operations");
        page.Url.Should().Contain("/account/login?returnUrl=");
        await HubServer.ScreenshotAsync(page, "sign-in");

        await HubServer.SignInAsync(page, "msp@partner.test");
        await page.GetByRole(AriaRole.Heading, new() { Name = "Your tenants" }).WaitForAsync();
        await HubServer.ScreenshotAsync(page, "tenants");

        await page.ClickAsync("[data-testid='open-operations-contoso']");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/admin/t/contoso/operations$"));
        await page.GetByRole(AriaRole.Heading, new() { Name = "Operations", Exact = true }).WaitForAsync();
        await Assertions.Expect(page.Locator("[data-testid='tenant-switcher']")).ToContainTextAsync("Contoso Ltd");

        // The tenant switcher lists exactly this user's tenants and keeps the section.
        await page.ClickAsync("[data-testid='tenant-switcher'] button");
        await Assertions.Expect(page.Locator("[data-tenant]")).ToHaveCountAsync(2);
        await page.ClickAsync("[data-tenant='fabrikam']");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/admin/t/fabrikam/operations$"));
        await HubServer.ScreenshotAsync(page, "operations");
    }

    [Fact]
    public async Task SignIn_ReturnsToThePageThatAskedForIt()
    {
        var page = await server.NewPageAsync();

        await page.GotoAsync("/admin/t/contoso/operations");
        await page.FillAsync("#email", "owner@contoso.test");
        await page.FillAsync("#password", HubServer.DemoPassword);
        await page.ClickAsync("button[type=submit]");

        await page.WaitForURLAsync("**/admin/t/contoso/operations");
    }

    [Fact]
    public async Task InCircuitNavigation_ToAnotherTenant_ShowsTheForbiddenPage_AndToAnUnknownRun_TheNotFoundPage()
    {
        var page = await server.NewPageAsync();
        await HubServer.SignInAsync(page, "owner@contoso.test", "/admin/t/contoso/operations");
        // A marker on window survives client-side navigation and dies with a full page load.
        await page.EvaluateAsync("() => window.__sameDocument = true");

        await page.EvaluateAsync("() => Blazor.navigateTo('/admin/t/fabrikam/operations')");
        await page.Locator("[data-status='403']").WaitForAsync();
        (await page.GetByRole(AriaRole.Heading, new() { Level = 1 }).InnerTextAsync()).Should().Be("You don't have access to this");
        (await page.EvaluateAsync<bool>("() => window.__sameDocument === true")).Should().BeTrue("the answer came inside the live circuit");
        (await page.ContentAsync()).Should().NotContain("Fabrikam Inc");
        await HubServer.ScreenshotAsync(page, "forbidden-in-circuit");

        await page.EvaluateAsync("() => Blazor.navigateTo('/admin/t/contoso/operations/987654321')");
        await page.Locator("[data-status='404']").WaitForAsync();
        await page.EvaluateAsync("() => Blazor.navigateTo('/admin/t/contoso/operations/not-a-number')");
        await page.Locator("[data-status='404']").WaitForAsync();
        (await page.EvaluateAsync<bool>("() => window.__sameDocument === true")).Should().BeTrue();

        // And back to an allowed page, still in the same circuit.
        await page.EvaluateAsync("() => Blazor.navigateTo('/admin/t/contoso/operations')");
        await page.GetByRole(AriaRole.Heading, new() { Name = "Operations", Exact = true }).WaitForAsync();
    }

    [Fact]
    public async Task ThemeChoice_IsRememberedForTheUser()
    {
        var page = await server.NewPageAsync();
        await HubServer.SignInAsync(page, "manager@contoso.test", "/admin/t/contoso");

        await page.ClickAsync("[data-testid='theme-menu'] button");
        await page.ClickAsync("[data-theme='Dark']");
        await page.WaitForFunctionAsync("() => getComputedStyle(document.body).backgroundColor !== 'rgb(246, 248, 251)'");

        // A new browser (no local state) for the same user starts dark.
        var other = await server.NewPageAsync();
        await HubServer.SignInAsync(other, "manager@contoso.test", "/admin/t/contoso");
        var background = await other.EvaluateAsync<string>("() => getComputedStyle(document.querySelector('.mud-main-content') ?? document.body).backgroundColor");
        await HubServer.ScreenshotAsync(other, "dashboard-dark");
        background.Should().NotBe("rgb(246, 248, 251)");
        // The menu is one choice of three: radio items, the current one checked.
        await other.ClickAsync("[data-testid='theme-menu'] button");
        var dark = other.GetByRole(AriaRole.Menuitemradio, new() { Name = "Dark" });
        await Assertions.Expect(dark).ToHaveAttributeAsync("aria-checked", "true");
        await Assertions.Expect(other.GetByRole(AriaRole.Menuitemradio, new() { Name = "Light" })).ToHaveAttributeAsync("aria-checked", "false");
        await other.ClickAsync("[data-theme='System']");
    }

    [Fact]
    public async Task AppBarMenus_AndTheSideMenu_WorkFromTheKeyboard()
    {
        var page = await server.NewPageAsync(width: 1280, height: 800);
        await HubServer.SignInAsync(page, "readonly@contoso.test", "/admin/t/contoso");
        var themeButton = page.Locator("[data-testid='theme-menu'] button");

        // Enter on the closed menu's button: the real menu swaps in, open, with the keyboard on its first item.
        await themeButton.FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("() => document.activeElement?.getAttribute('data-theme') === 'System'");
        await page.Keyboard.PressAsync("ArrowDown");
        await page.WaitForFunctionAsync("() => document.activeElement?.getAttribute('data-theme') === 'Light'");
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.Locator(".mud-popover-open [data-theme]")).ToHaveCountAsync(0);
        // Closed again: the focus is back on its button, and the choice holds.
        await page.WaitForFunctionAsync("() => document.activeElement?.closest('[data-testid=\"theme-menu\"]') !== null");
        await Assertions.Expect(page.Locator(".hub-root.hub-theme-light")).ToHaveCountAsync(1);
        await themeButton.ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Menuitemradio, new() { Name = "Light" })).ToHaveAttributeAsync("aria-checked", "true");
        // Escape closes it without a choice; Tab then moves on from its button.
        await page.Keyboard.PressAsync("Escape");
        await Assertions.Expect(page.Locator(".mud-popover-open [data-theme]")).ToHaveCountAsync(0);
        await page.WaitForFunctionAsync("() => document.activeElement?.closest('[data-testid=\"theme-menu\"]') !== null");
        await page.Locator("[data-testid='theme-menu'] button").ClickAsync();
        await page.ClickAsync("[data-theme='System']");

        // The side menu: beside the page on a wide screen until the menu button hides it.
        var nav = page.Locator("#hub-nav");
        (await nav.BoundingBoxAsync())!.X.Should().BeGreaterThanOrEqualTo(0);
        await page.ClickAsync("[data-testid='nav-toggle']");
        await page.WaitForFunctionAsync("() => document.querySelector('#hub-nav').getBoundingClientRect().right <= 0");

        // A phone: hidden until the button lays it over the page; Escape closes it, a choice too.
        await page.SetViewportSizeAsync(390, 844);
        await page.ReloadAsync();
        await page.Locator(".hub-root[data-interactive='true']").WaitForAsync();
        (await page.EvaluateAsync<double>("() => document.querySelector('#hub-nav').getBoundingClientRect().right")).Should().BeLessThanOrEqualTo(0);
        await page.ClickAsync("[data-testid='nav-toggle']");
        await page.WaitForFunctionAsync("() => document.querySelector('#hub-nav').getBoundingClientRect().left >= 0");
        await HubServer.ScreenshotAsync(page, "nav-phone-open");
        await page.Locator("#hub-nav a").First.FocusAsync();
        await page.Keyboard.PressAsync("Escape");
        await page.WaitForFunctionAsync("() => document.querySelector('#hub-nav').getBoundingClientRect().right <= 0");
        await page.ClickAsync("[data-testid='nav-toggle']");
        await page.Locator("#hub-nav a[href='/admin/t/contoso/operations']").ClickAsync();
        await page.WaitForURLAsync("**/admin/t/contoso/operations");
        await page.WaitForFunctionAsync("() => document.querySelector('#hub-nav').getBoundingClientRect().right <= 0");
    }

    [Fact]
    public async Task SignOut_EndsTheSession()
    {
        var page = await server.NewPageAsync();
        await HubServer.SignInAsync(page, "operator@contoso.test", "/admin/t/contoso");

        await page.ClickAsync("[data-testid='user-menu'] button");
        await page.ClickAsync("[data-testid='sign-out']");
        await page.WaitForURLAsync("**/account/login**");

        await page.GotoAsync("/admin/t/contoso");
        page.Url.Should().Contain("/account/login");
    }

    [Fact]
    public async Task SignOutInOneTab_AnIdleTabNoticesWithinSeconds_AndLeadsBackToWhereItWas()
    {
        var first = await server.NewPageAsync();
        await HubServer.SignInAsync(first, "operator@contoso.test", "/admin/t/contoso");
        var idle = await first.Context.NewPageAsync();
        await idle.GotoAsync("/admin/t/contoso/operations");
        await HubServer.WaitForInteractiveAsync(idle);

        await first.ClickAsync("[data-testid='user-menu'] button");
        await first.ClickAsync("[data-testid='sign-out']");
        await first.WaitForURLAsync("**/account/login**");

        // Nobody touches the idle tab: its circuit re-checks the session and turns signed-out by itself.
        await idle.Locator("[data-testid='signed-out']").WaitForAsync();
        (await idle.Locator("[data-testid='signed-out']").InnerTextAsync()).Should().Contain("signed out in another tab");
        // The notice can come first from the page (AuthorizeRouteView's NotAuthorized) and a render later from the
        // layout, which then drops the app bar's bell: wait for the layout, then the bell must be gone.
        await Assertions.Expect(idle.Locator("[data-testid='notification-bell']")).ToHaveCountAsync(0, new() { Timeout = 5_000 });
        await idle.ClickAsync("[data-testid='sign-in-again']");
        await idle.WaitForURLAsync(url => url.Contains("/account/login?returnUrl=%2Fadmin%2Ft%2Fcontoso%2Foperations", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PhoneWidth_FoldsTheFilters_AndShowsTheFirstRunsWithoutScrolling()
    {
        await StartQuickRunsAsync(3);
        var page = await server.NewPageAsync(width: 390, height: 844);
        await HubServer.SignInAsync(page, "owner@contoso.test", "/admin/t/contoso/operations?status=completed&mine=true");
        await page.Locator("tr.hub-run-row").First.WaitForAsync();

        var overflow = await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth > window.innerWidth + 1");
        await HubServer.ScreenshotAsync(page, "operations-phone");
        overflow.Should().BeFalse("nothing should force sideways scrolling at phone width");

        // The five filters fold behind one button that says how many are set; the search stays.
        var toggle = page.Locator("[data-testid='filters-toggle']");
        (await toggle.TextContentAsync())!.Trim().Should().Be("Filters (2)");
        (await toggle.GetAttributeAsync("aria-expanded")).Should().Be("false");
        (await page.Locator("[data-testid='filter-status']").IsVisibleAsync()).Should().BeFalse();
        (await page.Locator("[data-testid='filter-search']").IsVisibleAsync()).Should().BeTrue();
        (await page.Locator("[data-testid='sort-select']").IsVisibleAsync()).Should().BeTrue("the header and its sort buttons are hidden on a phone");

        // The first runs are on the first screen.
        var rows = page.Locator("tr.hub-run-row");
        var second = await rows.Nth(1).BoundingBoxAsync();
        second.Should().NotBeNull();
        (second!.Y + second.Height).Should().BeLessThan(844, "the first two runs are visible without scrolling");

        // A card is three lines: its progress ("2 of 2") ends the line of who, when and how long.
        var lines = await page.EvaluateAsync<double[]>("""
            () => ['Created', 'Progress'].map(l => document.querySelector(`tr.hub-run-row td[data-label='${l}']`).getBoundingClientRect().top)
            """);
        lines[1].Should().BeApproximately(lines[0], 4, "progress shares the card's third line");

        // The pager is one line: page size, "1-3 of 3" and the four buttons.
        var pagerTops = await page.EvaluateAsync<double[]>("""
            () => [...document.querySelectorAll('.hub-pager > select, .hub-pager > span, .hub-pager > button')]
                .map(e => e.getBoundingClientRect()).map(r => r.top + r.height / 2)
            """);
        pagerTops.Should().HaveCount(6);
        (pagerTops.Max() - pagerTops.Min()).Should().BeLessThan(4, "the pager does not wrap on a phone");

        // The app bar: the tenant's name on one line, the bell's badge inside the screen.
        var tenant = await page.Locator("[data-testid='tenant-switcher']").BoundingBoxAsync();
        tenant.Should().NotBeNull();
        tenant!.Height.Should().BeLessThan(48, "the tenant's name does not wrap");
        var badgeInside = await page.EvaluateAsync<bool>("""
            () => [...document.querySelectorAll('.mud-appbar .mud-badge')].every(b => {
                const r = b.getBoundingClientRect();
                return r.right <= window.innerWidth && r.top >= 0;
            })
            """);
        badgeInside.Should().BeTrue("the bell's badge is not clipped");

        await toggle.ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid='filter-status']")).ToBeVisibleAsync();
        (await toggle.GetAttributeAsync("aria-expanded")).Should().Be("true");
        await HubServer.ScreenshotAsync(page, "operations-phone-filters");
        (await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth > window.innerWidth + 1")).Should().BeFalse();
    }

    [Fact]
    public async Task LaptopWidth_KeepsTheFiltersOnOneRow()
    {
        await StartQuickRunsAsync(2);
        var page = await server.NewPageAsync(width: 1366, height: 768);
        await HubServer.SignInAsync(page, "owner@contoso.test", "/admin/t/contoso/operations?status=completed");
        await page.Locator("tr.hub-run-row").First.WaitForAsync();

        (await page.Locator("[data-testid='filters-toggle']").IsVisibleAsync()).Should().BeFalse("wide screens show the filters themselves");
        (await page.Locator("[data-testid='sort-select']").IsVisibleAsync()).Should().BeFalse("the column headers sort");
        var tops = await page.EvaluateAsync<double[]>("""
            () => ['filter-search', 'filter-status', 'filter-outcome', 'filter-type', 'filter-range', 'filter-mine', 'filter-clear']
                .map(id => document.querySelector(`[data-testid='${id}']`))
                .map(e => (e.closest('.mud-input-control') ?? e).getBoundingClientRect().top)
            """);
        await HubServer.ScreenshotAsync(page, "operations-1366");
        tops.Should().HaveCount(7);
        (tops.Max() - tops.Min()).Should().BeLessThan(24, "search, the five filters and Clear filters share one row at 1366 px");

        // Each select shows what is chosen whole ("Partially succeeded +1", "Last 24 hours"), not cut off; long
        // choices may move Started by me and Clear to a second row instead.
        await page.GotoAsync("/admin/t/contoso/operations?status=completed,running&outcome=succeeded,partially_succeeded&range=24h");
        await Assertions.Expect(page.Locator("input[data-testid='filter-outcome']")).ToHaveValueAsync("Partially succeeded +1");
        await HubServer.ScreenshotAsync(page, "operations-1366-long-filters");
        var cut = await page.EvaluateAsync<string[]>("""
            () => ['filter-status', 'filter-outcome', 'filter-range']
                .map(id => document.querySelector(`input[data-testid='${id}']`))
                .filter(e => e.scrollWidth > e.clientWidth + 1)
                .map(e => e.value)
            """);
        cut.Should().BeEmpty("the selects are as wide as what they show");

        // A too-short search shows its hint below the field without moving the filters beside it.
        var statusTop = await TopOfAsync(page, "filter-status");
        await page.FillAsync("input[data-testid='filter-search']", "ab");
        await Assertions.Expect(page.GetByText("Type at least 3 characters")).ToBeVisibleAsync();
        (await TopOfAsync(page, "filter-status")).Should().BeApproximately(statusTop, 0.5, "the hint does not shift the row");

        // A filter is drawn closed as plain markup and becomes its MudSelect when opened: by a click ...
        await page.ClickAsync("input[data-testid='filter-range']");
        await page.Locator(".mud-popover-open .mud-list-item", new() { HasTextString = "Last 7 days" }).ClickAsync();
        await page.WaitForURLAsync("**range=7d**");
        await Assertions.Expect(page.Locator("input[data-testid='filter-range']")).ToHaveValueAsync("Last 7 days");
        await Assertions.Expect(page.Locator(".mud-popover-open .mud-list-item")).ToHaveCountAsync(0);
        // ... or from the keyboard, arrows moving through its list; Escape closes it and the focus stays on the filter.
        await page.FocusAsync("input[data-testid='filter-outcome']");
        await page.Keyboard.PressAsync("Enter");
        await page.Locator(".mud-popover-open .mud-list-item", new() { HasTextString = "Failed" }).WaitForAsync();
        await HubServer.ScreenshotAsync(page, "operations-1366-filter-open");
        await page.Keyboard.PressAsync("Escape");
        await Assertions.Expect(page.Locator(".mud-popover-open .mud-list-item")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("input[data-testid='filter-outcome']")).ToBeFocusedAsync();
    }

    private static Task<double> TopOfAsync(IPage page, string testId) => page.EvaluateAsync<double>(
        "id => document.querySelector(`[data-testid='${id}']`).closest('.mud-input-control').getBoundingClientRect().top", testId);

    [Fact]
    public async Task Times_ShowInTheBrowsersTimeZone_WithUtcOnHover()
    {
        await StartQuickRunsAsync(1);
        var page = await server.NewPageAsync(timezoneId: "Asia/Kolkata");
        await HubServer.SignInAsync(page, "owner@contoso.test", "/admin/t/contoso/operations");
        var first = page.Locator("tr.hub-run-row a[data-run]").First;
        await first.ClickAsync();
        var created = page.Locator("time").First;
        await created.WaitForAsync();

        (await created.InnerTextAsync()).Should().EndWith("UTC+05:30");
        (await created.GetAttributeAsync("title")).Should().MatchRegex(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$");
        var utc = DateTime.Parse((await created.GetAttributeAsync("datetime"))!, null, System.Globalization.DateTimeStyles.RoundtripKind).ToUniversalTime();
        (await created.InnerTextAsync()).Should().StartWith(utc.AddHours(5.5).ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture));
        await HubServer.ScreenshotAsync(page, "run-time-zone");

        await page.GoBackAsync();
        var hover = await page.Locator("td[data-label='Created'] span").First.GetAttributeAsync("title");
        hover.Should().Contain("UTC+05:30 · ").And.EndWith(" UTC");
    }

    /// <summary>Runs that finish at once (the demo's own generator is off in tests), so the grid has rows.</summary>
    private async Task StartQuickRunsAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await server.StartRunAsync(OperationsHub.Core.Samples.SampleOperations.DirectorySync, $"Layout check {i}",
                new() { ["items"] = "2", ["item_delay_ms"] = "10" });
        }
    }
}
