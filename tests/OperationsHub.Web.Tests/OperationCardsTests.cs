using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Samples;
using OperationsHub.Web.Features.Auth;
using OperationsHub.Web.Features.StartSurfaces;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

public sealed class OperationCardsTests : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new();

    public async ValueTask InitializeAsync() => await _hub.InitializeAsync();

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task Start_EnqueuesAtOnce_ThenTheSameWorkIsDedupedToTheActiveRun()
    {
        var cards = Render(_hub.Tenant);

        cards.Find("[data-testid='start-policy_sync']").Click();
        cards.WaitForAssertion(() => _hub.ToastTexts().Should().ContainSingle(t => t.StartsWith("Policy sync queued #", StringComparison.Ordinal)));
        cards.WaitForAssertion(() => cards.Find("[data-operation='policy_sync'] [data-testid='card-active']").TextContent.Should().Contain("Queued"));

        cards.Find("[data-testid='start-policy_sync']").Click();
        cards.WaitForAssertion(() => _hub.ToastTexts().Should().Contain(t => t.StartsWith("Already running — Policy sync #", StringComparison.Ordinal)));
        await using var db = await _hub.DbAsync();
        (await db.Runs.CountAsync(r => r.Type == "policy_sync")).Should().Be(1);
    }

    [Fact]
    public void Restore_LeadsToTheRestorePage_InsteadOfAFreeTextBackupId()
    {
        var cards = Render(_hub.Tenant);

        cards.FindAll("[data-testid='start-restore']").Should().BeEmpty();
        cards.FindAll("input[data-testid^='input-restore']").Should().BeEmpty("a restore picks a backup from a list, never a typed id");
        var open = cards.Find("[data-testid='open-restore']");
        open.GetAttribute("href").Should().Be("/admin/t/contoso/restore");
        open.TextContent.Should().Contain("Choose what to restore");
    }

    [Fact]
    public void ReadonlyMember_SeesTheCardsButNoStartButtons()
    {
        var cards = Render(_hub.Tenant with { Role = TenantRole.Readonly });

        cards.FindAll("[data-operation]").Should().HaveCount(5);
        cards.FindAll("[data-testid^='start-']").Should().BeEmpty();
        cards.Find("[data-testid='open-restore']").TextContent.Should().Contain("View backups");
        cards.Find("[data-testid='readonly-note']").TextContent.Should().Contain("Readonly");
    }

    [Fact]
    public async Task Start_AfterTheSessionEnded_WritesNothing_AndTheCircuitTurnsSignedOut()
    {
        var cards = Render(_hub.Tenant);
        await _hub.Bunit.Services.GetRequiredService<HubSessions>().EndAsync(_hub.OwnerPrincipal, SessionEndReason.SignedOut, default);

        cards.Find("[data-testid='start-policy_sync']").Click();

        var provider = _hub.Bunit.Services.GetRequiredService<RevalidatingSessionStateProvider>();
        cards.WaitForAssertion(() => provider.Ended.Should().Be(SessionState.SignedOut));
        (await provider.GetAuthenticationStateAsync()).User.Identity!.IsAuthenticated.Should().BeFalse();
        _hub.ToastTexts().Should().BeEmpty("a refused start never says queued");
        await using var db = await _hub.DbAsync();
        (await db.Runs.CountAsync()).Should().Be(0);
    }

    private IRenderedComponent<OperationCards> Render(Features.Tenants.TenantContext tenant)
    {
        var state = _hub.AuthenticationStateFor(tenant);
        return _hub.Bunit.Render<OperationCards>(p => p
            .Add(c => c.Tenant, tenant)
            .AddCascadingValue(state));
    }

    [Fact]
    public async Task ProgressBeats_CostTheCardsNoReadAndNoRender_WhileAStateChangeIsShown()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Running, processed: 1, total: 10);
        var cards = Render(_hub.Tenant);
        cards.WaitForAssertion(() => cards.Find("[data-operation='policy_sync'] [data-testid='card-active']").TextContent.Should().Contain("Running"));
        var renders = cards.RenderCount;

        // The run ended in the database, but the signal that arrives says only its counts moved: the cards (a view of
        // states) neither read nor render, so they still show what they showed.
        await _hub.UpdateRunAsync(runId, r => (r.Status, r.Outcome, r.CompletedAt) = (RunStatus.Completed, RunOutcome.Succeeded, DateTime.UtcNow));
        await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 2, ProgressOnly: true));
        cards.RenderCount.Should().Be(renders);
        cards.Find("[data-operation='policy_sync'] [data-testid='card-active']").TextContent.Should().Contain("Running");

        // A state change is read and shown.
        await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 3));
        cards.WaitForAssertion(() => cards.FindAll("[data-operation='policy_sync'] [data-testid='card-active']").Should().BeEmpty());
    }

    [Fact]
    public void Queued_IsANeutralToast_WithTheRunNumberTargetAndARealLink()
    {
        var cards = Render(_hub.Tenant);

        cards.Find("[data-testid='start-policy_sync']").Click();

        cards.WaitForAssertion(() => _hub.Toasts.FindAll(".mud-snackbar").Should().ContainSingle());
        var toast = _hub.Toasts.Find(".mud-snackbar");
        toast.ClassList.Should().Contain("mud-alert-filled-normal", "queued is not success: no green check").And.NotContain(c => c.Contains("success", StringComparison.Ordinal));
        var link = toast.QuerySelector("a[data-testid='toast-view-run']")!;
        link.GetAttribute("href").Should().MatchRegex("^/admin/t/contoso/operations/\\d+$");
        toast.TextContent.Should().Contain("· All policies");
    }
}
