using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Samples;
using OperationsHub.Core.Webhooks;
using OperationsHub.Web.Features.Webhooks;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

/// <summary>The webhooks page: an owner registers (secret shown once), reads the delivery log and re-sends; below Owner it reads; below Manager it is closed.</summary>
public sealed class WebhookComponentsTests : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new();

    public async ValueTask InitializeAsync() => await _hub.InitializeAsync();

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task AnOwner_RegistersAWebhook_SeesItsSecretOnce_AndTheListShowsWhatItSends()
    {
        var view = Render(_hub.Tenant);
        view.WaitForAssertion(() => view.Find("[data-testid='webhooks-empty']"));

        await view.Find("input[data-testid='webhook-name']").ChangeAsync(new ChangeEventArgs { Value = "ticketing" });
        await view.Find("input[data-testid='webhook-url']").ChangeAsync(new ChangeEventArgs { Value = "https://tickets.example.com/hooks" });
        var failed = view.FindAll("[data-testid='webhook-outcomes'] input").Single(i => i.ParentElement!.TextContent.Trim() == "Failed");
        await failed.ChangeAsync(new ChangeEventArgs { Value = true });
        await view.Find("form").SubmitAsync();

        view.WaitForAssertion(() => view.Find("[data-testid='webhook-created']"));
        var secret = view.Find("[data-testid='webhook-secret']").GetAttribute("value")!;
        secret.Should().StartWith(WebhookSecrets.Prefix);
        var row = view.Find("[data-webhook='ticketing']");
        row.TextContent.Should().Contain("https://tickets.example.com/hooks").And.Contain("Runs completed · every type · completed failed")
            .And.NotContain(secret);
        await using (var db = await _hub.DbAsync())
        {
            var stored = await db.WebhookEndpoints.SingleAsync();
            stored.Events.Should().Be(WebhookEvents.Completed, "run completed is ticked by default, run queued is not");
            stored.OutcomeFilter.Should().Be(",Failed,");
            stored.ProtectedSecret.Should().NotContain(secret[WebhookSecrets.Prefix.Length..]);
        }

        await view.Find("[data-testid='webhook-done']").ClickAsync(new());
        view.Markup.Should().NotContain(secret);
    }

    [Fact]
    public async Task ARefusedAddress_IsSaidAtTheField_AndNothingIsRegistered()
    {
        var view = Render(_hub.Tenant);
        view.WaitForAssertion(() => view.Find("[data-testid='webhooks-empty']"));

        await view.Find("input[data-testid='webhook-name']").ChangeAsync(new ChangeEventArgs { Value = "metadata" });
        await view.Find("input[data-testid='webhook-url']").ChangeAsync(new ChangeEventArgs { Value = "https://169.254.169.254/latest/meta-data" });
        await view.Find("form").SubmitAsync();

        view.WaitForAssertion(() => view.Markup.Should().Contain("link-local or cloud metadata"));
        await using var db = await _hub.DbAsync();
        (await db.WebhookEndpoints.CountAsync()).Should().Be(0);
    }

    [Fact]
    public async Task TheDeliveryLog_ShowsEachDeliverysAnswer_AndAFailedOneIsResent()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Completed, RunOutcome.Failed);
        long deliveryId;
        await using (var db = await _hub.DbAsync())
        {
            var endpoint = new WebhookEndpoint
            {
                TenantId = _hub.Tenant.TenantId, Name = "pager", Url = "https://pager.example.com/in",
                ProtectedSecret = _hub.Bunit.Services.GetRequiredService<WebhookSecrets>().Protect("whsec_x"), SecretHint = "whsec_x",
                Events = WebhookEvents.Completed, CreatedAt = DateTime.UtcNow,
            };
            db.WebhookEndpoints.Add(endpoint);
            await db.SaveChangesAsync();
            var delivery = new WebhookDelivery
            {
                EndpointId = endpoint.Id, TenantId = _hub.Tenant.TenantId, RunId = runId, Event = WebhookEventNames.Completed, PayloadJson = "{}",
                Status = WebhookDeliveryStatus.Failed, Attempts = 8, LastStatusCode = 503, LastError = "The endpoint answered 503 Service Unavailable.",
                CreatedAt = DateTime.UtcNow, NextAttemptAt = DateTime.UtcNow, CompletedAt = DateTime.UtcNow,
            };
            db.WebhookDeliveries.Add(delivery);
            await db.SaveChangesAsync();
            deliveryId = delivery.Id;
        }

        var view = Render(_hub.Tenant);
        view.WaitForAssertion(() => view.Find("[data-testid='deliveries-pager']"));
        await view.Find("[data-testid='deliveries-pager']").ClickAsync(new());

        view.WaitForAssertion(() => view.Find($"[data-delivery='{deliveryId}'] [data-testid='delivery-status']").TextContent.Trim().Should().Be("Failed"));
        view.Find($"[data-delivery='{deliveryId}'] [data-testid='delivery-answer']").TextContent.Should().Contain("HTTP 503");
        view.Find($"[data-delivery='{deliveryId}'] a").GetAttribute("href").Should().Be($"/admin/t/contoso/operations/{runId}");

        await view.Find($"[data-testid='resend-{deliveryId}']").ClickAsync(new());

        view.WaitForAssertion(() => view.Find($"[data-delivery='{deliveryId}'] [data-testid='delivery-status']").TextContent.Trim().Should().Be("Sending"));
        view.FindAll($"[data-testid='resend-{deliveryId}']").Should().BeEmpty("a pending delivery is on its way already");
        await using var after = await _hub.DbAsync();
        var resent = await after.WebhookDeliveries.SingleAsync(d => d.Id == deliveryId);
        resent.Status.Should().Be(WebhookDeliveryStatus.Pending);
        resent.Attempts.Should().Be(0);
    }

    [Fact]
    public void AManager_ReadsButCannotChange_AndAnOperatorIsToldWhoCan()
    {
        var manager = Render(_hub.Tenant with { Role = TenantRole.Manager });
        var operatorView = Render(_hub.Tenant with { Role = TenantRole.Operator });

        manager.WaitForAssertion(() => manager.Find("[data-testid='webhooks-readonly-note']").TextContent.Should().Contain("Only owners"));
        manager.FindAll("[data-testid='register-webhook']").Should().BeEmpty();
        manager.Find("[data-testid='webhooks']").Should().NotBeNull();
        operatorView.Find("[data-testid='webhooks-not-allowed']").TextContent.Should().Contain("Only managers and owners");
        operatorView.FindAll("[data-testid='webhooks']").Should().BeEmpty();
    }

    private IRenderedComponent<WebhooksView> Render(OperationsHub.Web.Features.Tenants.TenantContext tenant) =>
        _hub.Bunit.Render<WebhooksView>(p => p
            .Add(v => v.Tenant, tenant)
            .AddCascadingValue(_hub.AuthenticationStateFor(tenant)));
}
