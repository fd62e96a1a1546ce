using System.Net;
using System.Net.Http.Headers;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.EndToEnd;

/// <summary>
/// A manager creates an API token in the browser with the keyboard, copies it from the page, a script uses it, and
/// revoking it on the page stops the script at once.
/// </summary>
public sealed class ApiTokensTests(HubServer server) : IClassFixture<HubServer>
{
    [Theory]
    [InlineData("light", 1280)]
    [InlineData("dark", 390)]
    public async Task CreateATokenWithTheKeyboard_UseItFromAScript_ThenRevokeIt(string scheme, int width)
    {
        var name = $"e2e-{scheme}-{width}";
        var page = await server.NewPageAsync(scheme, bypassCsp: true, width: width, height: 900);
        await HubServer.SignInAsync(page, "manager@contoso.test", "/admin/t/contoso/api-tokens");
        await Accessibility.SetThemeAsync(page, scheme);
        await Assertions.Expect(page.Locator("[data-token='demo-cli']")).ToContainTextAsync("Operator");

        // Keyboard only: type the name, Enter submits with the defaults (Operator, 90 days).
        await page.Locator("input[data-testid='token-name']").FocusAsync();
        await page.Keyboard.TypeAsync(name);
        await page.Keyboard.PressAsync("Enter");
        var secretBox = page.Locator("[data-testid='token-secret']");
        await Assertions.Expect(secretBox).ToBeVisibleAsync();
        var secret = await secretBox.InputValueAsync();
        secret.Should().StartWith("opshub_");
        await Assertions.Expect(page.Locator($"[data-token='{name}']")).ToContainTextAsync("Active");
        await Assertions.Expect(page.Locator("input[data-testid='token-name']")).ToHaveValueAsync("", new() { Timeout = 5_000 });
        await page.WaitForFunctionAsync("() => document.getAnimations().every(a => a.playState !== 'running')");
        await HubServer.ScreenshotAsync(page, $"api-token-created-{scheme}-{width}");
        Accessibility.AssertNoSeriousViolations(await page.RunAxe(), $"API tokens page {width}", scheme);

        using var script = new HttpClient { BaseAddress = server.BaseAddress };
        script.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        (await script.GetAsync("/api/t/contoso/operations?limit=1", TestContext.Current.CancellationToken)).StatusCode.Should().Be(HttpStatusCode.OK);

        await page.Locator($"[data-testid='revoke-{name}']").ClickAsync();
        var dialog = page.Locator(".mud-dialog");
        await Assertions.Expect(dialog).ToContainTextAsync($"Revoke {name}?");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await Assertions.Expect(page.Locator($"[data-token='{name}'] [data-testid='token-status']")).ToContainTextAsync("Revoked by Mateo Manager");
        await Assertions.Expect(page.Locator("[data-testid='audit']")).ToContainTextAsync($"Revoked API token '{name}' (Operator).");
        await HubServer.ScreenshotAsync(page, $"api-token-revoked-{scheme}-{width}");

        (await script.GetAsync("/api/t/contoso/operations?limit=1", TestContext.Current.CancellationToken)).StatusCode
            .Should().Be(HttpStatusCode.Unauthorized, "a revoked token stops at once");
    }
}
