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
        await other.ClickAsync("[data-testid='theme-menu'] button");
        await other.ClickAsync("[data-theme='System']");
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
        (await idle.Locator("[data-testid='notification-bell']").CountAsync()).Should().Be(0, "the bell goes with the session");
        await idle.ClickAsync("[data-testid='sign-in-again']");
        await idle.WaitForURLAsync(url => url.Contains("/account/login?returnUrl=%2Fadmin%2Ft%2Fcontoso%2Foperations", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PhoneWidth_ShowsTheAppUsably()
    {
        var page = await server.NewPageAsync();
        await page.SetViewportSizeAsync(390, 844);
        await HubServer.SignInAsync(page, "owner@contoso.test", "/admin/t/contoso/operations");

        var overflow = await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth > window.innerWidth + 1");
        await HubServer.ScreenshotAsync(page, "operations-phone");
        overflow.Should().BeFalse("nothing should force sideways scrolling at phone width");
    }
}
