using System.Collections.Concurrent;
using Deque.AxeCore.Playwright;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.EndToEnd;

/// <summary>
/// An owner registers a webhook in the browser with the keyboard, a run completes, and the delivery log shows the
/// receiver's answer; axe-clean in both themes and at a phone's width.
/// </summary>
public sealed class WebhooksTests(HubServer server) : IClassFixture<HubServer>
{
    [Theory]
    [InlineData("light", 1280)]
    [InlineData("dark", 390)]
    public async Task RegisterWithTheKeyboard_ARunCompletes_AndTheLogShowsTheDelivery(string scheme, int width)
    {
        var ct = TestContext.Current.CancellationToken;
        var received = new ConcurrentQueue<string>();
        await using var receiver = await StartReceiverAsync(received, ct);
        var receiverUrl = receiver.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/hooks";
        var name = $"e2e-{scheme}-{width}";
        var page = await server.NewPageAsync(scheme, bypassCsp: true, width: width, height: 900);
        // The theme is chosen first, on the dashboard: the theme menu's closing hands focus back on its own schedule.
        await HubServer.SignInAsync(page, "owner@contoso.test", "/admin/t/contoso");
        await Accessibility.SetThemeAsync(page, scheme);
        await page.GotoAsync("/admin/t/contoso/webhooks");
        await HubServer.WaitForInteractiveAsync(page);
        await Assertions.Expect(page.Locator("[data-testid='webhooks']")).ToBeVisibleAsync();

        // Keyboard only: the name, Tab to the address, Tab to "Run queued" and Space ticks it, Enter submits.
        await page.Locator("input[data-testid='webhook-name']").FocusAsync();
        await page.Keyboard.TypeAsync(name);
        await page.Keyboard.PressAsync("Tab");
        await Assertions.Expect(page.Locator("input[data-testid='webhook-url']")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(receiverUrl);
        await page.Keyboard.PressAsync("Tab");
        await Assertions.Expect(page.Locator("[data-testid='webhook-event-queued']")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Space");
        await Assertions.Expect(page.Locator("[data-testid='webhook-event-queued']")).ToBeCheckedAsync();
        await page.Locator("input[data-testid='webhook-url']").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        var secretBox = page.Locator("[data-testid='webhook-secret']");
        await Assertions.Expect(secretBox).ToBeVisibleAsync();
        (await secretBox.InputValueAsync()).Should().StartWith("whsec_");
        await Assertions.Expect(page.Locator($"[data-webhook='{name}']")).ToContainTextAsync("Runs queued, completed · every type");
        await page.WaitForFunctionAsync("() => document.getAnimations().every(a => a.playState !== 'running')");
        await HubServer.ScreenshotAsync(page, $"webhook-registered-{scheme}-{width}");
        Accessibility.AssertNoSeriousViolations(await page.RunAxe(), $"Webhooks page {width}", scheme);

        var runId = await server.StartRunAsync("policy_sync", $"Webhook {name}", new() { ["items"] = "2", ["item_delay_ms"] = "0" }, bySystem: true);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (received.Count(b => b.Contains($"\"run\":{{\"id\":{runId},", StringComparison.Ordinal)) < 2)
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "the run's queued and completed events reach the receiver");
            await Task.Delay(100, ct);
        }

        await page.Locator($"[data-testid='deliveries-{name}']").ClickAsync();
        var log = page.Locator("[data-testid='delivery-log']");
        await Assertions.Expect(log).ToContainTextAsync($"#{runId}");
        // The sender records its answer after the receiver has the body: refresh until both rows say so.
        for (var i = 0; i < 50 && await log.Locator("[data-testid='delivery-status']", new() { HasTextString = "Delivered" }).CountAsync() < 2; i++)
        {
            await page.Locator("[data-testid='deliveries-refresh']").ClickAsync();
            await Task.Delay(200, ct);
        }

        await Assertions.Expect(log.Locator("[data-testid='delivery-status']", new() { HasTextString = "Delivered" })).ToHaveCountAsync(2);
        await Assertions.Expect(log.Locator("[data-testid='delivery-answer']").First).ToContainTextAsync("HTTP 200");
        await page.WaitForFunctionAsync("() => document.getAnimations().every(a => a.playState !== 'running')");
        await HubServer.ScreenshotAsync(page, $"webhook-deliveries-{scheme}-{width}");
        Accessibility.AssertNoSeriousViolations(await page.RunAxe(), $"Webhook deliveries {width}", scheme);

        await page.Locator($"[data-testid='delete-{name}']").ClickAsync();
        var dialog = page.Locator(".mud-dialog");
        await Assertions.Expect(dialog).ToContainTextAsync($"Delete {name}?");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Assertions.Expect(page.Locator($"[data-webhook='{name}']")).ToHaveCountAsync(0);
    }

    private static async Task<WebApplication> StartReceiverAsync(ConcurrentQueue<string> received, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/hooks", async (Microsoft.AspNetCore.Http.HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            received.Enqueue(await reader.ReadToEndAsync());
            return Microsoft.AspNetCore.Http.Results.Ok();
        });
        await app.StartAsync(ct);
        return app;
    }
}
